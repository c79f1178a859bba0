//! The visitor's words in English, German, French and Spanish, and choosing among them: the
//! banner's texts (here) and the hosted policy page's (`policy`).

mod policy;
mod policy_de;
mod policy_en;
mod policy_es;
mod policy_fr;

pub use policy::{PolicyTexts, placeholders, policy_texts};

/// The languages the banner speaks. English is the fallback.
pub const LANGUAGES: [&str; 4] = ["en", "de", "fr", "es"];

/// Every text key the banner script reads.
pub const KEYS: [&str; 27] = [
    "title",
    "description",
    "accept_all",
    "reject_all",
    "customise",
    "save",
    "close",
    "settings",
    "preferences_title",
    "preferences_description",
    "policy_link",
    "always_on",
    "services",
    "cookies",
    "gpc_honoured",
    "opt_out_title",
    "opt_out_description",
    "do_not_sell",
    "acknowledge",
    "saved",
    "policy_updated",
    "your_data",
    "download_data",
    "erase_data",
    "cancel",
    "confirm_erase",
    "erased",
];

const EN: [&str; 27] = [
    "We value your privacy",
    "We use cookies and similar technologies for analytics and marketing only if you agree. You can change your mind at any time in Privacy settings.",
    "Accept all",
    "Reject all",
    "Customise",
    "Save choices",
    "Close",
    "Privacy settings",
    "Privacy preferences",
    "Choose which purposes you allow. Essential cookies are needed for the site to work.",
    "Privacy policy",
    "Always on",
    "Services",
    "Cookies",
    "Your browser's Global Privacy Control signal is honoured: marketing stays off.",
    "Your privacy choices",
    "We use analytics and advertising cookies. You can opt out of the sale or sharing of your personal information at any time.",
    "Do Not Sell or Share My Personal Information",
    "OK",
    "Your choices were saved.",
    "Our privacy policy was updated. Your choices still apply; you can review them in Privacy settings.",
    "Your data",
    "Download my data",
    "Erase my data",
    "Cancel",
    "Confirm erase",
    "Your data has been erased. Only a tombstone without personal data remains as proof.",
];

const DE: [&str; 27] = [
    "Ihre Privatsphäre ist uns wichtig",
    "Wir verwenden Cookies und ähnliche Technologien für Statistik und Marketing nur mit Ihrer Einwilligung. Sie können Ihre Wahl jederzeit in den Datenschutz-Einstellungen ändern.",
    "Alle akzeptieren",
    "Alle ablehnen",
    "Anpassen",
    "Auswahl speichern",
    "Schließen",
    "Datenschutz-Einstellungen",
    "Datenschutz-Einstellungen",
    "Wählen Sie, welche Zwecke Sie erlauben. Notwendige Cookies braucht die Website, um zu funktionieren.",
    "Datenschutzerklärung",
    "Immer aktiv",
    "Dienste",
    "Cookies",
    "Das Global-Privacy-Control-Signal Ihres Browsers wird beachtet: Marketing bleibt aus.",
    "Ihre Datenschutz-Entscheidung",
    "Wir verwenden Statistik- und Werbe-Cookies. Sie können dem Verkauf oder der Weitergabe Ihrer personenbezogenen Daten jederzeit widersprechen.",
    "Meine personenbezogenen Daten nicht verkaufen oder weitergeben",
    "OK",
    "Ihre Auswahl wurde gespeichert.",
    "Unsere Datenschutzerklärung wurde aktualisiert. Ihre Auswahl gilt weiter; Sie können sie in den Datenschutz-Einstellungen prüfen.",
    "Ihre Daten",
    "Meine Daten herunterladen",
    "Meine Daten löschen",
    "Abbrechen",
    "Löschen bestätigen",
    "Ihre Daten wurden gelöscht. Nur ein Vermerk ohne personenbezogene Daten bleibt als Nachweis.",
];

const FR: [&str; 27] = [
    "Nous respectons votre vie privée",
    "Nous utilisons des cookies et technologies similaires pour la mesure d'audience et le marketing uniquement avec votre accord. Vous pouvez changer d'avis à tout moment dans les paramètres de confidentialité.",
    "Tout accepter",
    "Tout refuser",
    "Personnaliser",
    "Enregistrer",
    "Fermer",
    "Paramètres de confidentialité",
    "Préférences de confidentialité",
    "Choisissez les finalités que vous autorisez. Les cookies essentiels sont nécessaires au fonctionnement du site.",
    "Politique de confidentialité",
    "Toujours actifs",
    "Services",
    "Cookies",
    "Le signal Global Privacy Control de votre navigateur est respecté : le marketing reste désactivé.",
    "Vos choix de confidentialité",
    "Nous utilisons des cookies de mesure et de publicité. Vous pouvez vous opposer à tout moment à la vente ou au partage de vos données personnelles.",
    "Ne pas vendre ni partager mes informations personnelles",
    "OK",
    "Vos choix ont été enregistrés.",
    "Notre politique de confidentialité a été mise à jour. Vos choix restent valables ; vous pouvez les revoir dans les paramètres de confidentialité.",
    "Vos données",
    "Télécharger mes données",
    "Effacer mes données",
    "Annuler",
    "Confirmer l'effacement",
    "Vos données ont été effacées. Seule une trace sans donnée personnelle reste comme preuve.",
];

const ES: [&str; 27] = [
    "Valoramos su privacidad",
    "Usamos cookies y tecnologías similares para analítica y marketing solo si usted lo acepta. Puede cambiar de opinión en cualquier momento en la configuración de privacidad.",
    "Aceptar todo",
    "Rechazar todo",
    "Personalizar",
    "Guardar selección",
    "Cerrar",
    "Configuración de privacidad",
    "Preferencias de privacidad",
    "Elija qué finalidades permite. Las cookies esenciales son necesarias para que el sitio funcione.",
    "Política de privacidad",
    "Siempre activas",
    "Servicios",
    "Cookies",
    "Se respeta la señal Global Privacy Control de su navegador: el marketing permanece desactivado.",
    "Sus opciones de privacidad",
    "Usamos cookies de analítica y publicidad. Puede oponerse en cualquier momento a la venta o el intercambio de su información personal.",
    "No vender ni compartir mi información personal",
    "OK",
    "Sus opciones se han guardado.",
    "Nuestra política de privacidad se ha actualizado. Sus opciones siguen vigentes; puede revisarlas en la configuración de privacidad.",
    "Sus datos",
    "Descargar mis datos",
    "Borrar mis datos",
    "Cancelar",
    "Confirmar borrado",
    "Sus datos se han borrado. Solo queda como prueba una constancia sin datos personales.",
];

/// The texts of a supported language, as (key, text) pairs in `KEYS` order.
pub fn texts(language: &str) -> impl Iterator<Item = (&'static str, &'static str)> {
    let table = match language {
        "de" => &DE,
        "fr" => &FR,
        "es" => &ES,
        _ => &EN,
    };
    KEYS.iter().copied().zip(table.iter().copied())
}

/// Picks a supported language from `?lang=` if given, else from `Accept-Language`.
///
/// Only the primary subtag counts (`de-AT` is `de`); quality values order the header's entries.
pub fn choose(query: Option<&str>, accept_language: Option<&str>) -> &'static str {
    if let Some(found) = query.and_then(supported) {
        return found;
    }
    let mut ranked: Vec<(f32, &'static str)> = accept_language
        .unwrap_or("")
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            Some((q, supported(tag)?))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.first().map(|(_, l)| *l).unwrap_or("en")
}

fn supported(tag: &str) -> Option<&'static str> {
    let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    LANGUAGES.iter().copied().find(|l| *l == primary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_then_the_best_ranked_supported_header_language() {
        assert_eq!(choose(Some("fr"), Some("de")), "fr");
        assert_eq!(choose(Some("xx"), Some("it, es;q=0.9, de;q=0.5")), "es");
        assert_eq!(choose(None, Some("de-AT,de;q=0.9,en;q=0.8")), "de");
        assert_eq!(choose(None, None), "en");
        assert_eq!(choose(None, Some("ja")), "en");
    }

    #[test]
    fn every_text_the_banner_script_reads_is_in_the_catalogue() {
        let script = include_str!("../static/consent.js");
        let mut read: Vec<&str> = Vec::new();
        for prefix in ["T.", "texts."] {
            for (at, _) in script.match_indices(prefix) {
                let key: &str = script[at + prefix.len()..]
                    .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                    .next()
                    .unwrap_or("");
                let word_start = at == 0 || !script.as_bytes()[at - 1].is_ascii_alphanumeric();
                if word_start && !key.is_empty() {
                    read.push(key);
                }
            }
        }
        assert!(
            read.contains(&"confirm_erase"),
            "the scan finds the keys: {read:?}"
        );
        for key in read {
            assert!(
                KEYS.contains(&key),
                "the script reads `{key}`, which is not in KEYS"
            );
        }
    }

    #[test]
    fn every_language_has_a_text_for_every_key() {
        for l in LANGUAGES {
            assert_eq!(texts(l).count(), KEYS.len());
            assert!(texts(l).all(|(_, t)| !t.is_empty()), "{l}");
        }
    }
}
