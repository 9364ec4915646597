pub fn parse_pid(content: &[u8]) -> Result<i32, String> {
    let s = String::from_utf8_lossy(content);
    let t = s
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("");
    t.parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("not a pid: {t:?}"))
}
