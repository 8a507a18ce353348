//! The widget's words in English, French, Chinese, Spanish and German,
//! picked from the `language` option, then `<html lang>`, then the
//! browser's language.

/// Every text the widget shows or announces.
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    /// The checkbox's label before anything happened.
    pub idle: &'static str,
    /// While verifying.
    pub verifying: &'static str,
    /// Once a verdict is in the form.
    pub verified: &'static str,
    /// When the verdict expired and a new one is needed.
    pub expired: &'static str,
    /// When the verifier cannot be reached.
    pub error_network: &'static str,
    /// When the verifier refused (wrong site key or origin).
    pub error_config: &'static str,
    /// Any other failure.
    pub error_other: &'static str,
    /// The retry button.
    pub retry: &'static str,
    /// The accessible name of the widget as a whole.
    pub region: &'static str,
    /// The privacy link.
    pub privacy: &'static str,
    /// Step-up: announced when a challenge appears.
    pub step_up_needed: &'static str,
    /// Step-up: announced after a wrong answer, with the next challenge.
    pub step_up_wrong: &'static str,
    /// Step-up: announced after "new challenge".
    pub step_up_new: &'static str,
    /// Step-up: the image's accessible name; `{n}` is the number of
    /// characters. What to do, never the answer.
    pub step_up_image: &'static str,
    /// Step-up: the text field's label.
    pub step_up_input: &'static str,
    /// Step-up: a new challenge.
    pub step_up_refresh: &'static str,
    /// Step-up: the audio alternative.
    pub step_up_audio: &'static str,
    /// Step-up: send the answer.
    pub step_up_submit: &'static str,
    /// Step-up: the audio could not be fetched or played.
    pub step_up_audio_failed: &'static str,
}

const EN: Texts = Texts {
    idle: "Verify you are human",
    verifying: "Verifying…",
    verified: "Verified",
    expired: "Verification expired. Select to verify again.",
    error_network: "Cannot reach the verification service.",
    error_config: "This site's verification is misconfigured.",
    error_other: "Verification failed.",
    retry: "Retry",
    region: "Human verification",
    privacy: "Privacy",
    step_up_needed: "Verification needed: type the characters you see or hear.",
    step_up_wrong: "That was not right, try again.",
    step_up_new: "New challenge shown.",
    step_up_image: "Distorted characters: type the {n} characters you see, or play the audio.",
    step_up_input: "Characters",
    step_up_refresh: "New challenge",
    step_up_audio: "Play audio",
    step_up_submit: "Verify",
    step_up_audio_failed: "The audio could not be played.",
};

const FR: Texts = Texts {
    idle: "Vérifiez que vous êtes humain",
    verifying: "Vérification…",
    verified: "Vérifié",
    expired: "La vérification a expiré. Sélectionnez pour vérifier à nouveau.",
    error_network: "Le service de vérification est injoignable.",
    error_config: "La vérification de ce site est mal configurée.",
    error_other: "La vérification a échoué.",
    retry: "Réessayer",
    region: "Vérification humaine",
    privacy: "Confidentialité",
    step_up_needed: "Vérification nécessaire\u{a0}: saisissez les caractères que vous voyez ou entendez.",
    step_up_wrong: "Ce n'était pas correct, réessayez.",
    step_up_new: "Nouveau défi affiché.",
    step_up_image: "Caractères déformés\u{a0}: saisissez les {n} caractères que vous voyez, ou écoutez l'audio.",
    step_up_input: "Caractères",
    step_up_refresh: "Nouveau défi",
    step_up_audio: "Écouter l'audio",
    step_up_submit: "Vérifier",
    step_up_audio_failed: "L'audio n'a pas pu être lu.",
};

const ZH: Texts = Texts {
    idle: "验证您是真人",
    verifying: "正在验证…",
    verified: "已验证",
    expired: "验证已过期。请选择以重新验证。",
    error_network: "无法连接验证服务。",
    error_config: "此网站的验证配置有误。",
    error_other: "验证失败。",
    retry: "重试",
    region: "人机验证",
    privacy: "隐私",
    step_up_needed: "需要验证：请输入您看到或听到的字符。",
    step_up_wrong: "输入有误，请重试。",
    step_up_new: "已显示新的验证码。",
    step_up_image: "扭曲的字符：请输入您看到的 {n} 个字符，或播放音频。",
    step_up_input: "字符",
    step_up_refresh: "换一个",
    step_up_audio: "播放音频",
    step_up_submit: "验证",
    step_up_audio_failed: "无法播放音频。",
};

const ES: Texts = Texts {
    idle: "Verifica que eres humano",
    verifying: "Verificando…",
    verified: "Verificado",
    expired: "La verificación caducó. Selecciona para verificar de nuevo.",
    error_network: "No se puede contactar con el servicio de verificación.",
    error_config: "La verificación de este sitio está mal configurada.",
    error_other: "La verificación falló.",
    retry: "Reintentar",
    region: "Verificación humana",
    privacy: "Privacidad",
    step_up_needed: "Se necesita verificación: escribe los caracteres que ves u oyes.",
    step_up_wrong: "No era correcto, inténtalo de nuevo.",
    step_up_new: "Se muestra un nuevo desafío.",
    step_up_image: "Caracteres distorsionados: escribe los {n} caracteres que ves, o reproduce el audio.",
    step_up_input: "Caracteres",
    step_up_refresh: "Nuevo desafío",
    step_up_audio: "Reproducir audio",
    step_up_submit: "Verificar",
    step_up_audio_failed: "No se pudo reproducir el audio.",
};

const DE: Texts = Texts {
    idle: "Bestätigen Sie, dass Sie ein Mensch sind",
    verifying: "Wird überprüft…",
    verified: "Bestätigt",
    expired: "Die Bestätigung ist abgelaufen. Zum erneuten Prüfen auswählen.",
    error_network: "Der Prüfdienst ist nicht erreichbar.",
    error_config: "Die Prüfung dieser Website ist falsch eingerichtet.",
    error_other: "Die Prüfung ist fehlgeschlagen.",
    retry: "Erneut versuchen",
    region: "Menschliche Bestätigung",
    privacy: "Datenschutz",
    step_up_needed: "Bestätigung nötig: Geben Sie die Zeichen ein, die Sie sehen oder hören.",
    step_up_wrong: "Das war nicht richtig, bitte versuchen Sie es erneut.",
    step_up_new: "Neue Aufgabe angezeigt.",
    step_up_image: "Verzerrte Zeichen: Geben Sie die {n} Zeichen ein, die Sie sehen, oder spielen Sie das Audio ab.",
    step_up_input: "Zeichen",
    step_up_refresh: "Neue Aufgabe",
    step_up_audio: "Audio abspielen",
    step_up_submit: "Prüfen",
    step_up_audio_failed: "Das Audio konnte nicht abgespielt werden.",
};

/// The texts for a language tag (`fr`, `fr-CA`, `zh-Hans-CN`...); English
/// when there are none.
pub fn texts(tag: &str) -> &'static Texts {
    let primary = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    match primary.as_str() {
        "fr" => &FR,
        "zh" => &ZH,
        "es" => &ES,
        "de" => &DE,
        _ => &EN,
    }
}

/// The language of a step-up's audio for a language tag: `fr` for French,
/// else `en` (the two the verifier speaks).
pub fn audio_language(tag: &str) -> &'static str {
    if std::ptr::eq(texts(tag), &FR) {
        "fr"
    } else {
        "en"
    }
}

/// The language to use: the option, else `<html lang>`, else the browser's.
pub fn pick(option: Option<&str>) -> String {
    if let Some(o) = option.filter(|o| !o.is_empty() && *o != "auto") {
        return o.to_owned();
    }
    let window = web_sys::window();
    let page = window
        .as_ref()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| e.get_attribute("lang"))
        .filter(|l| !l.is_empty());
    page.or_else(|| window.and_then(|w| w.navigator().language())).unwrap_or_else(|| "en".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_says_how_many_characters() {
        for tag in ["en", "fr", "zh", "es", "de"] {
            let t = texts(tag);
            assert!(t.step_up_image.contains("{n}"), "{tag}");
            assert!(!t.step_up_needed.is_empty() && !t.step_up_wrong.is_empty(), "{tag}");
        }
    }

    #[test]
    fn audio_is_french_or_english() {
        assert_eq!(audio_language("fr-CA"), "fr");
        assert_eq!(audio_language("FR"), "fr");
        assert_eq!(audio_language("de"), "en");
        assert_eq!(audio_language(""), "en");
    }
}
