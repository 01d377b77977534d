// The page's one WebAudio context, made on first use, and the tones every page's sounds are made of
// (the console's chime, the dashboard's alarm, the phone's doorbell: no sound files to ship).
// Browsers may refuse audio until the page has been clicked or a key pressed; a blocked or missing
// AudioContext is null here and the caller stays silent, quietly.

let context = null;
let failed = false;

/** The page's AudioContext, or null where there is none. */
export function audioContext() {
  if (context || failed) return context;
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) {
    failed = true;
    return null;
  }
  try {
    context = new Context();
  } catch (error) {
    failed = true;
  }
  return context;
}

/** Call from a click or key press: lets the browser start audio later without one. */
export function unlockAudio() {
  const ctx = audioContext();
  if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
}

/**
 * Play ``notes`` ([[offset s, frequency Hz], ...]), each a short tone rising in 20 ms to ``peak``
 * and fading out over ``length`` seconds. ``ifRunning``: only when audio already runs (a page that
 * must not ask before a tap), else a suspended context is asked to resume. Returns whether the
 * tones were scheduled; never throws.
 */
export function playTones(notes, { type = "sine", peak = 0.35, length = 0.25, ifRunning = false } = {}) {
  const ctx = audioContext();
  if (!ctx || (ifRunning && ctx.state !== "running")) return false;
  try {
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    const start = ctx.currentTime + 0.02;
    for (const [offset, frequency] of notes) {
      const oscillator = ctx.createOscillator();
      const gain = ctx.createGain();
      oscillator.type = type;
      oscillator.frequency.value = frequency;
      const at = start + offset;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(peak, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
      oscillator.connect(gain).connect(ctx.destination);
      oscillator.start(at);
      oscillator.stop(at + length + 0.02);
    }
    return true;
  } catch (error) {
    return false;
  }
}
