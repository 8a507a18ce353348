//! Draws a step-up challenge on the canvas and plays its audio, both in ways
//! a strict Content Security Policy allows: the image arrives as a `data:`
//! URL in `/score`'s answer, but it is never loaded as one (that would need
//! `img-src data:`); its bytes are decoded here, wrapped in a `Blob` and
//! drawn from an `ImageBitmap`. The audio is fetched like any call to the
//! verifier (`connect-src`) and played through Web Audio, so no `media-src`
//! is needed either.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AudioBuffer, AudioBufferSourceNode, AudioContext, CanvasRenderingContext2d, HtmlCanvasElement, ImageBitmap,
};

/// The value of one base64 digit (standard alphabet), if it is one.
fn digit(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    }))
}

/// Decodes base64 (padded or not; `=` ends it); `None` on any other byte.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        acc = (acc << 6) | digit(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The bytes of a `data:<type>;base64,<data>` URL.
pub fn data_url_bytes(url: &str) -> Option<Vec<u8>> {
    let rest = url.strip_prefix("data:")?;
    let comma = rest.bytes().position(|b| b == b',')?;
    if !rest[..comma].ends_with(";base64") {
        return None;
    }
    decode_base64(&rest[comma + 1..])
}

/// Draws the image of a `data:image/png;base64,...` URL over the whole
/// canvas, once decoded, if `wanted()` still says so then.
pub async fn draw(canvas: &HtmlCanvasElement, data_url: &str, wanted: impl Fn() -> bool) -> Result<(), JsValue> {
    let bytes = data_url_bytes(data_url).ok_or("oculto: the challenge image is not base64")?;
    let window = web_sys::window().ok_or("oculto: no window")?;
    let array = js_sys::Uint8Array::from(&bytes[..]);
    let blob = web_sys::Blob::new_with_u8_array_sequence(&js_sys::Array::of1(&array))?;
    let bitmap: ImageBitmap = JsFuture::from(window.create_image_bitmap_with_blob(&blob)?).await?.dyn_into()?;
    if !wanted() {
        bitmap.close();
        return Ok(());
    }
    let ctx: CanvasRenderingContext2d = canvas.get_context("2d")?.ok_or("oculto: no 2d context")?.dyn_into()?;
    let (w, h) = (f64::from(canvas.width()), f64::from(canvas.height()));
    ctx.clear_rect(0.0, 0.0, w, h);
    ctx.draw_image_with_image_bitmap_and_dw_and_dh(&bitmap, 0.0, 0.0, w, h)?;
    bitmap.close();
    Ok(())
}

/// Clears the canvas (while the next image loads, so the old one is never
/// taken for the new).
pub fn blank(canvas: &HtmlCanvasElement) {
    let ctx = canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok());
    if let Some(ctx) = ctx {
        ctx.clear_rect(0.0, 0.0, f64::from(canvas.width()), f64::from(canvas.height()));
    }
}

/// Plays the audio alternative: one `AudioContext`, made on the person's
/// first press (browsers let a page start sound only after a gesture), and
/// the decoded sound of the current challenge kept for replays.
#[derive(Default)]
pub struct Player {
    ctx: Option<AudioContext>,
    playing: Option<AudioBufferSourceNode>,
    /// The challenge id and its decoded sound.
    cached: Option<(String, AudioBuffer)>,
}

impl Player {
    /// The audio context, made (or woken) now: call it in the press's own
    /// event handler, before any `await`.
    pub fn context(&mut self) -> Option<AudioContext> {
        if self.ctx.is_none() {
            self.ctx = AudioContext::new().ok();
        }
        let ctx = self.ctx.clone()?;
        let _ = ctx.resume();
        Some(ctx)
    }

    /// The decoded sound of challenge `id`, if it was fetched before.
    pub fn cached(&self, id: &str) -> Option<AudioBuffer> {
        self.cached.as_ref().filter(|(c, _)| c == id).map(|(_, b)| b.clone())
    }

    /// Remembers the sound of challenge `id`.
    pub fn keep(&mut self, id: &str, buffer: &AudioBuffer) {
        self.cached = Some((id.to_owned(), buffer.clone()));
    }

    /// Plays `buffer` from the start, stopping what was playing.
    pub fn play(&mut self, ctx: &AudioContext, buffer: &AudioBuffer) -> Result<(), JsValue> {
        self.stop();
        let source = ctx.create_buffer_source()?;
        source.set_buffer(Some(buffer));
        let node: &web_sys::AudioNode = &source;
        node.connect_with_audio_node(&ctx.destination())?;
        source.start()?;
        self.playing = Some(source);
        Ok(())
    }

    /// Stops the sound and forgets the cached one (a new challenge).
    pub fn forget(&mut self) {
        self.stop();
        self.cached = None;
    }

    fn stop(&mut self) {
        if let Some(s) = self.playing.take() {
            let node: &web_sys::AudioScheduledSourceNode = &s;
            let _ = node.stop();
        }
    }

    /// Stops everything and releases the audio device.
    pub fn close(&mut self) {
        self.forget();
        if let Some(ctx) = self.ctx.take() {
            let _ = ctx.close();
        }
    }
}

/// Decodes a WAV (or any format the browser knows) into a sound.
pub async fn decode(ctx: &AudioContext, bytes: &js_sys::ArrayBuffer) -> Result<AudioBuffer, JsValue> {
    JsFuture::from(ctx.decode_audio_data(bytes)?).await?.dyn_into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(decode_base64("").as_deref(), Some(&b""[..]));
        assert_eq!(decode_base64("TQ==").as_deref(), Some(&b"M"[..]));
        assert_eq!(decode_base64("TWE=").as_deref(), Some(&b"Ma"[..]));
        assert_eq!(decode_base64("TWFu").as_deref(), Some(&b"Man"[..]));
        assert_eq!(decode_base64("iVBORw0KGgo=").as_deref(), Some(&b"\x89PNG\r\n\x1a\n"[..]));
        assert_eq!(decode_base64("+/+/").as_deref(), Some(&[0xfb, 0xff, 0xbf][..]));
        assert_eq!(decode_base64("TW Fu"), None);
    }

    #[test]
    fn reads_data_urls() {
        assert_eq!(data_url_bytes("data:image/png;base64,TWFu").as_deref(), Some(&b"Man"[..]));
        assert_eq!(data_url_bytes("data:image/png,Man"), None);
        assert_eq!(data_url_bytes("/challenge/x.png"), None);
    }
}
