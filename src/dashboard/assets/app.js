// Meridian's status page. Plain browser JavaScript, no build step.
//
// Everything shown comes from this node's API: one server-sent event stream
// (/api/v1/dashboard/stream) brings a snapshot of regions, nodes and DNS totals every
// second and right after each health event. Every element is built with textContent or
// setAttribute, never from markup, so names from config or input are always shown as text.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const TOKEN_KEY = 'meridian-admin-token';
const TIMELINE_LIMIT = 200;

const $ = (id) => document.getElementById(id);

/** An HTML element with attributes (`class`, `text`, others set as attributes) and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'class') node.setAttribute('class', value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
}

/** Equirectangular, as tools/worldmap/simplify.py draws the land. */
function project(latitude, longitude) {
  return [((longitude + 180) / 360) * 1000, ((90 - latitude) / 180) * 500];
}

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  snapshot: null,
  previousDns: null,
  dnsRates: null,
  events: [],
  seenEvents: new Set(),
  demo: null,
};

// ---- admin token: the page is read-only without one -------------------------------------

function takeTokenFromFragment() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return;
  state.token = decodeURIComponent(match[1]);
  sessionStorage.setItem(TOKEN_KEY, state.token);
  // Out of the address bar and the history, so it is not shared by accident.
  history.replaceState(null, '', location.pathname + location.search);
}

function renderTokenMode() {
  const admin = state.token !== '';
  $('mode').textContent = admin ? 'Admin' : 'Read-only';
  $('token').value = '';
  $('token').placeholder = admin ? 'token set' : 'admin token';
  $('token-forget').hidden = !admin;
  document.body.dataset.admin = admin ? 'yes' : 'no';
}

function notice(message, isError = false) {
  const box = $('notice');
  box.textContent = message;
  box.classList.toggle('error', isError);
  box.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

/** POSTs an admin action with the token; reports the outcome in the notice line. */
async function adminAction(path, what) {
  if (!state.token) {
    notice('Read-only: enter the admin token to ' + what + '.', true);
    return;
  }
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + state.token },
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      notice('Done: ' + what + '.');
    } else {
      if (response.status === 401 || response.status === 403) {
        state.token = '';
        sessionStorage.removeItem(TOKEN_KEY);
        renderTokenMode();
        render();
      }
      notice(what + ' refused (' + response.status + '): ' + (body.error || response.statusText), true);
    }
  } catch (error) {
    notice(what + ' failed: ' + error, true);
  }
}

// ---- verdicts ----------------------------------------------------------------------------

function operatorState(region) {
  return region.operator && region.operator.state ? region.operator.state : 'none';
}

/** up | transition | down | drained: what the marker and card colours mean. */
function verdictClass(region) {
  if (operatorState(region) === 'drained') return 'drained';
  if (!region.up) return 'down';
  if (region.in_transition) return 'transition';
  return 'up';
}

function verdictWord(region) {
  const operator = operatorState(region);
  if (operator === 'drained') return 'drained';
  if (operator === 'forced_up') return 'forced up';
  if (!region.up) return 'down';
  if (region.in_transition) return 'up, in transition';
  return 'up';
}

// ---- map ---------------------------------------------------------------------------------

async function loadLand() {
  try {
    const text = await (await fetch('/assets/world.svg')).text();
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const land = $('land');
    for (const path of doc.querySelectorAll('path')) {
      land.append(svg('path', { d: path.getAttribute('d'), 'fill-rule': 'evenodd' }));
    }
  } catch (error) {
    console.warn('no world map', error);
  }
}

function renderMap(regions) {
  const byName = new Map(regions.map((region) => [region.name, region]));
  const paths = $('paths');
  const markers = $('markers');
  paths.replaceChildren();
  markers.replaceChildren();
  for (const target of regions) {
    for (const vote of target.votes || []) {
      const from = byName.get(vote.from);
      if (!from || from.name === target.name) continue;
      const [x1, y1] = project(from.latitude, from.longitude);
      const [x2, y2] = project(target.latitude, target.longitude);
      // Bent to the left of the direction of travel, so A->B and B->A both show.
      const [dx, dy] = [x2 - x1, y2 - y1];
      const bend = 0.12;
      const cx = (x1 + x2) / 2 + dy * bend;
      const cy = (y1 + y2) / 2 - dx * bend;
      const cls = !vote.fresh ? 'stale' : vote.vote === 'up' ? 'up' : 'down';
      const path = svg('path', {
        d: `M${x1.toFixed(1)},${y1.toFixed(1)} Q${cx.toFixed(1)},${cy.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`,
        class: 'probe ' + cls,
        'data-from': from.name,
        'data-to': target.name,
      });
      const title = svg('title');
      const latency = vote.latency_ms != null ? `, ${vote.latency_ms.toFixed(1)} ms` : '';
      title.textContent = `${from.name} → ${target.name}: ${vote.vote}${vote.fresh ? '' : ' (stale)'}${latency}`;
      path.append(title);
      paths.append(path);
    }
  }
  for (const region of regions) {
    const [x, y] = project(region.latitude, region.longitude);
    const cls = verdictClass(region);
    const group = svg('g', { class: 'marker ' + cls, 'data-region': region.name, 'data-verdict': cls });
    group.append(svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 10 }));
    const label = svg('text', { x: (x + 14).toFixed(1), y: (y + 5).toFixed(1) });
    label.textContent = region.name;
    group.append(label);
    const title = svg('title');
    title.textContent = `${region.name}: ${verdictWord(region)}${region.reason ? ' — ' + region.reason : ''}`;
    group.append(title);
    markers.append(group);
  }
}

// ---- region cards ------------------------------------------------------------------------

function fmtMs(value) {
  return value == null ? '–' : value < 10 ? value.toFixed(2) + ' ms' : value.toFixed(0) + ' ms';
}

function fmtAge(ms) {
  if (ms == null) return '–';
  if (ms < 1000) return ms + ' ms';
  if (ms < 120000) return (ms / 1000).toFixed(1) + ' s';
  return Math.round(ms / 60000) + ' min';
}

function fmtRate(value) {
  if (value == null) return '–';
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function table(headers, rows) {
  return el('div', { class: 'scroll' },
    el('table', { class: 'grid' },
      el('thead', {}, el('tr', {}, headers.map(([text, cls]) => el('th', { class: cls, text })))),
      el('tbody', {}, rows)));
}

function regionCard(region, local) {
  const cls = verdictClass(region);
  const admin = state.token !== '';
  const probe = region.probe || {};
  const self = probe.self_report;
  const selfText = self == null ? 'unknown (no answer)' : self.healthy ? 'healthy' : 'unhealthy: ' + (self.reason || '');
  const operator = operatorState(region);

  const votes = (region.votes || []).map((vote) => el('tr', {},
    el('td', { text: vote.from }),
    el('td', { class: 'vote-' + vote.vote, text: vote.vote + (vote.isolated ? ' (isolated)' : '') }),
    el('td', { text: vote.status || '–' }),
    el('td', { class: 'num', text: fmtMs(vote.latency_ms) }),
    el('td', { class: 'num', text: vote.fresh ? fmtAge(vote.age_ms) : 'stale' })));

  const backends = (region.backends || []).map((backend) => {
    const row = el('tr', { 'data-backend': backend.id },
      el('td', { title: backend.address, text: backend.id }),
      el('td', { class: 'state-' + backend.state, text: backend.state }),
      el('td', { class: 'num', text: backend.in_flight ?? '–' }),
      el('td', { class: 'num', text: fmtRate(backend.requests_per_second) }),
      el('td', { class: 'num', text: backend.error_rate == null ? '–' : (backend.error_rate * 100).toFixed(1) + '%' }),
      el('td', { class: 'num', text: fmtMs(backend.p99_ms) }));
    if (region.name === local) {
      // `drained` holds even while the backend is down: it can be undrained then too.
      const draining = backend.drained === true || backend.state === 'draining';
      const action = draining ? 'undrain' : 'drain';
      row.append(el('td', {}, el('button', {
        type: 'button',
        disabled: !admin,
        title: admin ? '' : 'read-only: enter the admin token',
        text: draining ? 'Undrain' : 'Drain',
        onclick: () => adminAction(
          `/api/v1/regions/${encodeURIComponent(region.name)}/backends/${encodeURIComponent(backend.id)}/${action}`,
          `${action} backend ${backend.id}`),
      })));
    } else {
      row.append(el('td'));
    }
    return row;
  });

  const action = (name, label, danger) => el('button', {
    type: 'button',
    class: danger ? 'danger' : null,
    disabled: !admin,
    title: admin ? '' : 'read-only: enter the admin token',
    'data-action': name,
    text: label,
    onclick: () => adminAction(`/api/v1/regions/${encodeURIComponent(region.name)}/${name}`, `${name} ${region.name}`),
  });

  return el('article', { class: 'card ' + cls, 'data-region': region.name, 'data-verdict': cls },
    el('h3', {}, region.name, el('span', { class: 'badge ' + cls, text: verdictWord(region) })),
    region.reason ? el('p', { class: 'muted', text: region.reason }) : null,
    el('p', {},
      'Self-health: ', el('span', { text: selfText }),
      ' · capacity ', String(region.capacity ?? '–'),
      operator !== 'none' ? ` · operator: ${operator.replace('_', ' ')}` + (region.operator.by ? ` by ${region.operator.by}` : '') : ''),
    el('h4', { text: 'Votes (vantage points)' }),
    votes.length ? table([['From'], ['Vote'], ['Status'], ['Latency', 'num'], ['Age', 'num']], votes)
      : el('p', { class: 'muted', text: 'no votes yet' }),
    el('h4', {}, 'Backends', region.backends_fresh === false && (region.backends || []).length
      ? el('span', { class: 'muted', text: ' — as last reported; the region does not answer now' }) : null),
    backends.length ? table([['ID'], ['State'], ['In flight', 'num'], ['Req/s', 'num'], ['Errors', 'num'], ['p99', 'num'], ['']], backends)
      : el('p', { class: 'muted', text: 'no backends reported' }),
    el('div', { class: 'actions' },
      operator === 'drained' ? action('undrain', 'Undrain') : action('drain', 'Drain', true),
      operator === 'forced_up' ? action('undrain', 'Clear force-up') : action('force-up', 'Force up', true)));
}

function renderRegions(report) {
  $('regions').replaceChildren(...report.regions.map((region) => regionCard(region, report.region)));
  const counts = { up: 0, transition: 0, down: 0, drained: 0 };
  for (const region of report.regions) counts[verdictClass(region)] += 1;
  const parts = [`${report.regions.length} regions: ${counts.up} up`];
  if (counts.transition) parts.push(`${counts.transition} in transition`);
  if (counts.down) parts.push(`${counts.down} down`);
  if (counts.drained) parts.push(`${counts.drained} drained`);
  if (report.isolated) parts.push('this node is ISOLATED (keeping its last view)');
  $('summary').textContent = parts.join(', ') + '.';
}

// ---- DNS ---------------------------------------------------------------------------------

/** Per-second rates between the last two snapshots' totals. */
function updateDnsRates(dns) {
  const previous = state.previousDns;
  state.previousDns = dns;
  if (!previous || dns.at_unix_ms <= previous.at_unix_ms) return;
  const seconds = (dns.at_unix_ms - previous.at_unix_ms) / 1000;
  const rate = (now, before) => Math.max(0, (now - (before || 0)) / seconds);
  const rates = (key) => Object.fromEntries(
    Object.entries(dns.totals[key] || {}).map(([name, value]) => [name, rate(value, (previous.totals[key] || {})[name])]));
  state.dnsRates = {
    queries: rate(dns.totals.queries, previous.totals.queries),
    by_region: rates('by_region'),
    by_continent: rates('by_continent'),
    by_rcode: rates('by_rcode'),
  };
}

function bars(title, totals, rates) {
  const entries = Object.entries(totals || {}).sort((a, b) => b[1] - a[1]);
  const sum = entries.reduce((total, [, value]) => total + value, 0);
  if (!entries.length) return el('p', { class: 'muted', text: `${title}: nothing yet` });
  return el('div', {},
    el('h4', { class: 'muted', text: title }),
    el('div', { class: 'bars' }, entries.flatMap(([name, value]) => [
      el('span', { text: name }),
      el('span', { class: 'bar' }, el('span', { style: null, 'data-share': (value / sum).toFixed(3) })),
      el('span', { class: 'num', text: `${(100 * value / sum).toFixed(1)}% · ${fmtRate((rates || {})[name])}/s` }),
    ])));
}

function renderDns(dns) {
  const totals = dns.totals;
  const rates = state.dnsRates;
  $('dns').replaceChildren(
    el('p', {}, el('span', { class: 'big', id: 'dns-qps', text: rates ? fmtRate(rates.queries) : '–' }), ' queries/s',
      el('span', { class: 'muted', text: ` · ${totals.queries} answered since start` })),
    bars('Answers by region', totals.by_region, rates && rates.by_region),
    bars('Steered answers by client continent', totals.by_continent, rates && rates.by_continent),
    bars('Response codes', totals.by_rcode, rates && rates.by_rcode));
  // Widths set through the DOM: the policy allows no inline style attributes.
  for (const fill of $('dns').querySelectorAll('[data-share]')) {
    fill.style.width = (Number(fill.dataset.share) * 100).toFixed(1) + '%';
  }
}

// ---- nodes -------------------------------------------------------------------------------

function renderNodes(nodes) {
  $('drift').textContent = nodes.drift
    ? 'Config drift: a node runs a config that differs from this one.'
    : 'Every node heard from runs the same config.';
  $('drift').className = nodes.drift ? 'drift' : 'muted';
  $('nodes').replaceChildren(
    el('thead', {}, el('tr', {}, ['Region', 'Node', 'Version', 'Config', 'Heard'].map((text) => el('th', { text })))),
    el('tbody', {}, nodes.nodes.map((node) => el('tr', {},
      el('td', { text: node.region }),
      el('td', { text: node.node + (node.this_node ? ' (this node)' : '') }),
      el('td', { text: node.version }),
      el('td', { class: node.drift ? 'drift' : null, title: node.config_hash, text: String(node.config_hash).slice(0, 12) + (node.drift ? ' ⚠ drift' : '') }),
      el('td', { class: 'num', text: node.this_node ? 'now' : fmtAge(node.heard_ms_ago) + ' ago' })))));
}

// ---- timeline ----------------------------------------------------------------------------

function addEvent(event) {
  if (state.seenEvents.has(event.seq)) return false;
  state.seenEvents.add(event.seq);
  state.events.push(event);
  state.events.sort((a, b) => b.seq - a.seq);
  if (state.events.length > TIMELINE_LIMIT) {
    for (const dropped of state.events.splice(TIMELINE_LIMIT)) state.seenEvents.delete(dropped.seq);
  }
  return true;
}

function renderTimeline() {
  const list = $('timeline');
  if (!state.events.length) {
    list.replaceChildren(el('li', { class: 'muted', text: 'No changes since this node started.' }));
    return;
  }
  list.replaceChildren(...state.events.map((event) => {
    const at = new Date(event.at_unix_ms);
    return el('li', { 'data-seq': event.seq },
      el('time', { datetime: at.toISOString(), text: at.toLocaleTimeString() }),
      el('span', { class: 'kind', text: event.kind }),
      el('strong', { text: event.region }),
      event.from || event.to ? ` ${event.from} → ${event.to}` : '',
      event.reason ? el('span', { class: 'muted', text: ` — ${event.reason}` }) : null,
      event.voters && event.voters.length ? el('span', { class: 'muted', text: ` (${event.voters.join(', ')})` }) : null);
  }));
}

async function loadTimeline() {
  try {
    const body = await (await fetch('/api/v1/events')).json();
    for (const event of body.events || []) addEvent(event);
    renderTimeline();
  } catch (error) {
    console.warn('no timeline', error);
  }
}

// ---- why this answer ---------------------------------------------------------------------

async function explain(submit) {
  submit.preventDefault();
  const params = new URLSearchParams({
    name: $('explain-name').value.trim(),
    client: $('explain-client').value.trim(),
    type: $('explain-type').value,
  });
  const out = $('explain-out');
  out.hidden = false;
  out.textContent = 'Asking…';
  try {
    const response = await fetch('/api/v1/explain?' + params);
    const body = await response.json();
    out.textContent = response.ok ? body.text : 'Error: ' + body.error;
  } catch (error) {
    out.textContent = 'Error: ' + error;
  }
}

// ---- demo chaos controls (only where the demo serves them) -------------------------------

async function loadDemo() {
  try {
    const [regions, backends] = await Promise.all([
      fetch('/demo/regions').then((r) => (r.ok ? r.json() : null)),
      fetch('/demo/backends').then((r) => (r.ok ? r.json() : null)),
    ]);
    if (!regions) return;
    state.demo = { regions, backends: backends || { backends: [] } };
    renderDemo();
  } catch (error) {
    // Not the demo: no controls.
  }
}

async function chaos(path, what) {
  try {
    const response = await fetch(path, { method: 'POST' });
    const body = await response.json().catch(() => ({}));
    if (response.ok) notice('Demo: ' + what + '.');
    else notice(`Demo: ${what} refused (${response.status}): ${body.error || ''}`, true);
  } catch (error) {
    notice(`Demo: ${what} failed: ${error}`, true);
  }
  setTimeout(loadDemo, 300);
}

function renderDemo() {
  const { regions, backends } = state.demo;
  const cuts = new Set(regions.cuts.map((cut) => cut.from + '\u0000' + cut.to));
  const names = regions.regions.map((region) => region.name);
  const button = (text, path, what, attrs = {}) =>
    el('button', { type: 'button', text, onclick: () => chaos(path, what), ...attrs });
  const fieldsets = regions.regions.map((region) => {
    const enc = encodeURIComponent(region.name);
    const rows = [el('div', { class: 'row' },
      el('span', { text: region.running ? 'node running' : 'node stopped' }),
      region.running
        ? button('Fail region', `/demo/regions/${enc}/fail`, `fail ${region.name}`, { class: 'danger', 'data-chaos': 'fail', 'data-region': region.name })
        : button('Recover region', `/demo/regions/${enc}/recover`, `recover ${region.name}`, { 'data-chaos': 'recover', 'data-region': region.name }))];
    for (const backend of backends.backends.filter((b) => b.region === region.name)) {
      rows.push(el('div', { class: 'row' },
        el('span', { text: `${backend.backend} (${backend.running ? 'running' : 'stopped'})` }),
        backend.running
          ? button('Stop', `/demo/backends/${enc}/${backend.index}/stop`, `stop ${backend.backend}`, { class: 'danger' })
          : button('Start', `/demo/backends/${enc}/${backend.index}/start`, `start ${backend.backend}`)));
    }
    for (const to of names.filter((name) => name !== region.name)) {
      const cut = cuts.has(region.name + '\u0000' + to);
      const path = `/demo/probes/${enc}/${encodeURIComponent(to)}/${cut ? 'heal' : 'cut'}`;
      rows.push(el('div', { class: 'row' },
        el('span', { text: `probes ${region.name} → ${to}${cut ? ' (cut)' : ''}` }),
        button(cut ? 'Heal' : 'Cut', path, `${cut ? 'heal' : 'cut'} ${region.name} → ${to}`, cut ? {} : { class: 'danger' })));
    }
    return el('fieldset', {}, el('legend', { text: region.name }), rows);
  });
  $('demo-controls').replaceChildren(...fieldsets);
  $('demo').hidden = false;
}

// ---- live stream -------------------------------------------------------------------------

function render() {
  const snapshot = state.snapshot;
  if (!snapshot) return;
  $('whoami').textContent = `node ${snapshot.node} in ${snapshot.region} · v${snapshot.version}`;
  renderMap(snapshot.regions.regions);
  renderRegions(snapshot.regions);
  renderDns(snapshot.dns);
  renderNodes(snapshot.nodes);
}

function connect() {
  const live = $('live');
  const source = new EventSource('/api/v1/dashboard/stream');
  source.addEventListener('open', () => {
    live.dataset.state = 'live';
    live.textContent = 'live';
  });
  source.addEventListener('snapshot', (message) => {
    state.snapshot = JSON.parse(message.data);
    updateDnsRates(state.snapshot.dns);
    render();
    document.body.dataset.updated = String(Date.now());
  });
  source.addEventListener('health', (message) => {
    if (addEvent(JSON.parse(message.data))) renderTimeline();
  });
  source.addEventListener('lagged', () => loadTimeline());
  source.addEventListener('error', () => {
    live.dataset.state = 'down';
    live.textContent = 'reconnecting…';
    // EventSource retries on its own; the timeline is reloaded once it is back.
    source.addEventListener('open', loadTimeline, { once: true });
  });
}

function start() {
  takeTokenFromFragment();
  renderTokenMode();
  $('token-form').addEventListener('submit', (submit) => {
    submit.preventDefault();
    const value = $('token').value.trim();
    if (!value) return;
    state.token = value;
    sessionStorage.setItem(TOKEN_KEY, value);
    renderTokenMode();
    render();
  });
  $('token-forget').addEventListener('click', () => {
    state.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    renderTokenMode();
    render();
  });
  $('explain-form').addEventListener('submit', explain);
  loadLand();
  loadTimeline();
  loadDemo();
  setInterval(() => { if (state.demo) loadDemo(); }, 2000);
  connect();
}

start();
