//! Token estimate without a tokenizer: `ceil(characters / chars_per_token)`, where
//! `chars_per_token` comes from `attention_config`. The router gets real counts from the
//! provider; this is only for budgets.

/// Estimated tokens of `text`: its character count divided by `chars_per_token`, rounded up
/// (so any non-empty text costs at least one token). A non-positive `chars_per_token` counts
/// one token per character.
pub fn estimate_tokens(text: &str, chars_per_token: f64) -> u64 {
    let chars = text.chars().count() as f64;
    if chars == 0.0 {
        return 0;
    }
    let per = if chars_per_token > 0.0 { chars_per_token } else { 1.0 };
    (chars / per).ceil() as u64
}

/// The longest prefix of `text` (on a char boundary) whose estimate is at most `tokens`.
pub(crate) fn prefix_within(text: &str, tokens: u64, chars_per_token: f64) -> &str {
    let per = if chars_per_token > 0.0 { chars_per_token } else { 1.0 };
    let max_chars = ((tokens as f64) * per).floor() as usize;
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
