#!/usr/bin/env python3
"""Turn Natural Earth land (TopoJSON) into the dashboard's world outline SVG.

Reads the `land` object of a TopoJSON topology (world-atlas's land-110m.json),
decodes its quantized, delta-encoded arcs, projects them equirectangularly
into a 1000 x 500 view box, simplifies every ring with Douglas-Peucker, drops
rings too small to see, rounds to 0.1 unit and writes one SVG <path>.

The projection is the contract with the dashboard's JavaScript, which places
region markers with the same formula:

    x = (lon + 180) / 360 * 1000
    y = (90 - lat) / 180 * 500

Python 3 standard library only. The output depends only on the input file and
the options, so running it twice gives the same bytes.
"""

import argparse
import json
import sys

VIEW_WIDTH = 1000
VIEW_HEIGHT = 500


def project(lon, lat):
    """Equirectangular projection into the 0 0 1000 500 view box."""
    return (
        (lon + 180.0) / 360.0 * VIEW_WIDTH,
        (90.0 - lat) / 180.0 * VIEW_HEIGHT,
    )


def decode_arcs(topology):
    """Every arc as a list of (lon, lat), undoing quantization and deltas."""
    transform = topology.get("transform")
    arcs = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        scale_x, scale_y = transform["scale"]
        translate_x, translate_y = transform["translate"]
        x = y = 0
        points = []
        for position in arc:
            x += position[0]
            y += position[1]
            points.append((x * scale_x + translate_x, y * scale_y + translate_y))
        arcs.append(points)
    return arcs


def stitch_ring(arc_indices, arcs):
    """One closed ring from arc indices; a negative index ~i is arc i reversed.

    Consecutive arcs share their joining point, so each arc after the first
    contributes all but its first point.
    """
    ring = []
    for index in arc_indices:
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        ring.extend(points if not ring else points[1:])
    return ring


def land_rings(topology, object_name):
    """All rings (outer boundaries and holes) of the named object."""
    arcs = decode_arcs(topology)
    obj = topology["objects"][object_name]
    geometries = obj["geometries"] if obj["type"] == "GeometryCollection" else [obj]
    rings = []
    for geometry in geometries:
        if geometry["type"] == "Polygon":
            polygons = [geometry["arcs"]]
        elif geometry["type"] == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        for polygon in polygons:
            for ring_arcs in polygon:
                rings.append(stitch_ring(ring_arcs, arcs))
    return rings


def unwrap_longitudes(ring):
    """The ring with longitudes made continuous across the antimeridian.

    world-atlas merges land across the antimeridian (Chukotka, Fiji), so a
    ring can step from 179.9 to -180. Each step is taken the short way round,
    which lets such a ring run past 180 instead of jumping across the map; it
    is cut back into the view box later, after simplifying.

    A ring around a pole (Antarctica) comes back shifted by 360 degrees; it is
    closed along the pole's latitude so that it encloses the land south of it.
    """
    unwrapped = [ring[0]]
    for (lon1, _), (lon2, lat2) in zip(ring, ring[1:]):
        step = (lon2 - lon1 + 180.0) % 360.0 - 180.0
        unwrapped.append((unwrapped[-1][0] + step, lat2))
    drift = unwrapped[-1][0] - unwrapped[0][0]
    if abs(drift) > 180.0:
        pole = -90.0 if sum(lat for _, lat in ring) < 0 else 90.0
        unwrapped += [(unwrapped[-1][0], pole), (unwrapped[0][0], pole), unwrapped[0]]
    return unwrapped


def clip_half_plane(ring, inside, crossing):
    """Sutherland-Hodgman: the part of an open ring on the inside of one line."""
    clipped = []
    for index, current in enumerate(ring):
        previous = ring[index - 1]
        if inside(current):
            if not inside(previous):
                clipped.append(crossing(previous, current))
            clipped.append(current)
        elif inside(previous):
            clipped.append(crossing(previous, current))
    return clipped


def crossing_at_x(bound):
    def crossing(start, end):
        (x1, y1), (x2, y2) = start, end
        return (bound, y1 + (y2 - y1) * (bound - x1) / (x2 - x1))

    return crossing


def view_copies(ring):
    """A closed projected ring cut to the view box's width, as closed rings.

    A ring that runs past x=1000 (or below 0) is also drawn shifted by one map
    width, so the part beyond the antimeridian shows on the other side.
    """
    pieces = []
    for shift in (-VIEW_WIDTH, 0, VIEW_WIDTH):
        shifted = [(x + shift, y) for x, y in ring[:-1]]
        low = min(x for x, _ in shifted)
        high = max(x for x, _ in shifted)
        if high <= 0 or low >= VIEW_WIDTH:
            continue
        if low < 0:
            shifted = clip_half_plane(shifted, lambda p: p[0] >= 0, crossing_at_x(0))
        if high > VIEW_WIDTH:
            shifted = clip_half_plane(
                shifted, lambda p: p[0] <= VIEW_WIDTH, crossing_at_x(VIEW_WIDTH)
            )
        if len(shifted) >= 3:
            pieces.append(shifted + shifted[:1])
    return pieces


def distance_to_segment_squared(point, start, end):
    px, py = point
    ax, ay = start
    bx, by = end
    dx, dy = bx - ax, by - ay
    length_squared = dx * dx + dy * dy
    if length_squared == 0.0:
        return (px - ax) ** 2 + (py - ay) ** 2
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length_squared))
    cx, cy = ax + t * dx, ay + t * dy
    return (px - cx) ** 2 + (py - cy) ** 2


def douglas_peucker(points, tolerance):
    """Douglas-Peucker on an open polyline; keeps both end points.

    Iterative, so long coastlines cannot hit Python's recursion limit.
    """
    if len(points) < 3:
        return list(points)
    tolerance_squared = tolerance * tolerance
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        farthest, farthest_distance = -1, tolerance_squared
        for index in range(first + 1, last):
            distance = distance_to_segment_squared(points[index], points[first], points[last])
            if distance > farthest_distance:
                farthest, farthest_distance = index, distance
        if farthest >= 0:
            keep[farthest] = True
            stack.append((first, farthest))
            stack.append((farthest, last))
    return [point for point, kept in zip(points, keep) if kept]


def simplify_ring(ring, tolerance):
    """Simplify a closed ring (first point == last point), still closed.

    A closed ring has no natural end points, so it is split at its first point
    and the point farthest from it, and the two halves are simplified apart.
    """
    if ring and ring[0] == ring[-1]:
        ring = ring[:-1]
    if len(ring) < 4 or tolerance <= 0.0:
        return ring + ring[:1]
    x0, y0 = ring[0]
    split = max(
        range(1, len(ring)),
        key=lambda index: (ring[index][0] - x0) ** 2 + (ring[index][1] - y0) ** 2,
    )
    closed = ring + ring[:1]
    first_half = douglas_peucker(closed[: split + 1], tolerance)
    second_half = douglas_peucker(closed[split:], tolerance)
    return first_half + second_half[1:]


def ring_area(ring):
    """Absolute shoelace area of a closed ring, in view-box units squared."""
    twice_area = 0.0
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        twice_area += x1 * y2 - x2 * y1
    return abs(twice_area) / 2.0


def to_tenths(ring):
    """Round to 0.1 unit as integers, dropping points that became repeats."""
    rounded = []
    for x, y in ring:
        point = (int(round(x * 10)), int(round(y * 10)))
        if not rounded or rounded[-1] != point:
            rounded.append(point)
    return rounded


def format_tenths(value):
    """An integer count of tenths as the shortest decimal text: 125 -> 12.5."""
    sign = "-" if value < 0 else ""
    whole, tenth = divmod(abs(value), 10)
    return f"{sign}{whole}.{tenth}" if tenth else f"{sign}{whole}"


def join_numbers(numbers):
    """Numbers separated by a space, or by nothing before a minus sign."""
    text = ""
    for number in numbers:
        if text and not number.startswith("-"):
            text += " "
        text += number
    return text


def path_data(rings):
    """SVG path data: an absolute M, then relative l steps, closed with z.

    The steps are differences of already rounded points, so rounding errors
    never accumulate along a ring.
    """
    parts = []
    for ring in rings:
        if ring[0] == ring[-1]:
            ring = ring[:-1]
        numbers = []
        for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
            numbers.append(format_tenths(x2 - x1))
            numbers.append(format_tenths(y2 - y1))
        start = join_numbers([format_tenths(ring[0][0]), format_tenths(ring[0][1])])
        parts.append(f"M{start}l{join_numbers(numbers)}z")
    return "".join(parts)


def build_svg(rings):
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {VIEW_WIDTH} {VIEW_HEIGHT}">\n'
        "<!-- Land from Natural Earth 1:110m (public domain), simplified by "
        "tools/worldmap/simplify.py; see tools/worldmap/README.md. "
        "x=(lon+180)/360*1000, y=(90-lat)/180*500 -->\n"
        f'<path class="land" fill-rule="evenodd" d="{path_data(rings)}"/>\n'
        "</svg>\n"
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topojson", help="TopoJSON file, e.g. world-atlas's land-110m.json")
    parser.add_argument("-o", "--output", default="-", help="SVG file to write (default: stdout)")
    parser.add_argument("--object", default="land", help="topology object to draw (default: land)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.6,
        help="Douglas-Peucker tolerance in view-box units, 1 unit = 0.36 degrees (default: 0.6)",
    )
    parser.add_argument(
        "--min-area",
        type=float,
        default=4.0,
        help="drop rings smaller than this many square view-box units after simplifying (default: 4)",
    )
    parser.add_argument(
        "--south-limit",
        type=float,
        default=-60.0,
        help="drop rings lying wholly south of this latitude, i.e. Antarctica; "
        "-90 keeps everything (default: -60)",
    )
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    with open(args.topojson, encoding="utf-8") as file:
        topology = json.load(file)

    kept = []
    dropped = 0
    for ring in land_rings(topology, args.object):
        if max(lat for _, lat in ring) < args.south_limit:
            dropped += 1
            continue
        projected = [project(lon, lat) for lon, lat in unwrap_longitudes(ring)]
        simplified = simplify_ring(projected, args.tolerance)
        for piece in view_copies(simplified):
            rounded = to_tenths(piece)
            # A ring needs three distinct points plus the closing repeat.
            area = ring_area([(x / 10, y / 10) for x, y in rounded])
            if len(rounded) < 4 or area < args.min_area:
                dropped += 1
                continue
            kept.append(rounded)

    svg = build_svg(kept)
    if args.output == "-":
        sys.stdout.write(svg)
    else:
        with open(args.output, "w", encoding="utf-8", newline="\n") as file:
            file.write(svg)
    points = sum(len(ring) - 1 for ring in kept)
    print(
        f"worldmap: {len(kept)} rings, {points} points, {dropped} rings dropped, {len(svg)} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
