//! Place codes that steering tables are keyed by: ISO 3166-1 alpha-2 countries and the
//! continent codes geo databases use.

/// Every officially assigned ISO 3166-1 alpha-2 code (249), sorted for binary search.
///
/// Taken from the ISO 3166 Maintenance Agency list as shipped by Debian's `iso-codes` and
/// checked against tzdata's `iso3166.tab`. Reserved codes such as `UK` are not in it; the
/// one user-assigned code geo databases really return, `XK` (Kosovo, in MaxMind and DB-IP
/// data), is accepted beside it by [`is_country`].
pub(super) const COUNTRY_CODES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Continent codes as MaxMind and DB-IP databases report them.
pub(super) const CONTINENT_CODES: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// Whether `code` is an assigned ISO 3166-1 alpha-2 code (or `XK`), in upper case.
pub(super) fn is_country(code: &str) -> bool {
    COUNTRY_CODES.binary_search(&code).is_ok() || code == DATABASE_USER_ASSIGNED
}

/// Kosovo: user-assigned in ISO 3166, but what MaxMind and DB-IP databases report, so a
/// steering rule for it can match.
const DATABASE_USER_ASSIGNED: &str = "XK";

/// The assigned code someone writing `code` most likely meant: reserved codes in common
/// use, or the right code in the wrong case.
pub(super) fn country_suggestion(code: &str) -> Option<String> {
    // UK and EL are reserved for the United Kingdom and Greece (EU usage), never assigned.
    match code.to_ascii_uppercase().as_str() {
        "UK" => Some("GB".to_string()),
        "EL" => Some("GR".to_string()),
        upper if upper != code && is_country(upper) => Some(upper.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{COUNTRY_CODES, country_suggestion, is_country};

    #[test]
    fn the_country_list_is_sorted_unique_and_well_formed() {
        assert!(COUNTRY_CODES.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            COUNTRY_CODES
                .iter()
                .all(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()))
        );
        for code in ["GB", "US", "IN", "AX", "ZW", "SS", "CW", "AQ", "XK"] {
            assert!(is_country(code), "{code}");
        }
        for code in ["UK", "EL", "EU", "ZZ", "QZ", "gb", "xk", "G", "GBR", ""] {
            assert!(!is_country(code), "{code}");
        }
    }

    #[test]
    fn likely_mistakes_get_a_suggestion() {
        assert_eq!(country_suggestion("UK").as_deref(), Some("GB"));
        assert_eq!(country_suggestion("uk").as_deref(), Some("GB"));
        assert_eq!(country_suggestion("EL").as_deref(), Some("GR"));
        assert_eq!(country_suggestion("de").as_deref(), Some("DE"));
        assert_eq!(country_suggestion("ZZ"), None);
        assert_eq!(country_suggestion("GB"), None);
    }
}
