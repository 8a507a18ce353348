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
    /// Step-up: what to do with the image.
    pub step_up_prompt: &'static str,
    /// Step-up: the text field's label.
    pub step_up_input: &'static str,
    /// Step-up: a new challenge.
    pub step_up_refresh: &'static str,
    /// Step-up: the audio alternative.
    pub step_up_audio: &'static str,
    /// Step-up: send the answer.
    pub step_up_submit: &'static str,
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
    step_up_prompt: "Type the characters shown in the image, or listen to them.",
    step_up_input: "Characters",
    step_up_refresh: "New challenge",
    step_up_audio: "Listen",
    step_up_submit: "Check",
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
    step_up_prompt: "Saisissez les caractères de l'image, ou écoutez-les.",
    step_up_input: "Caractères",
    step_up_refresh: "Nouveau défi",
    step_up_audio: "Écouter",
    step_up_submit: "Valider",
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
    step_up_prompt: "请输入图片中的字符，或收听语音。",
    step_up_input: "字符",
    step_up_refresh: "换一个",
    step_up_audio: "收听",
    step_up_submit: "确认",
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
    step_up_prompt: "Escribe los caracteres de la imagen, o escúchalos.",
    step_up_input: "Caracteres",
    step_up_refresh: "Nuevo desafío",
    step_up_audio: "Escuchar",
    step_up_submit: "Comprobar",
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
    step_up_prompt: "Geben Sie die Zeichen im Bild ein oder hören Sie sie an.",
    step_up_input: "Zeichen",
    step_up_refresh: "Neue Aufgabe",
    step_up_audio: "Anhören",
    step_up_submit: "Prüfen",
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
