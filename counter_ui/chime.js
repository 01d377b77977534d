// The console's chime for an instruction from the lobby manager: two bright tones made with
// WebAudio (no sound file to ship). Browsers may refuse audio until the page has been clicked or a
// key pressed; the console unlocks it on the first one. A blocked or missing AudioContext stays
// silent, quietly: the banner is the message, the chime only draws the eye to it.

import { audioContext } from "/static/js/audio.js";

/** Call from a click or key press: lets the browser start audio later without one. */
export function unlockChime() {
  const ctx = audioContext();
  if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
}

/** Play the chime. Returns whether a sound was scheduled. */
export function playChime() {
  const ctx = audioContext();
  if (!ctx) return false;
  try {
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    const start = ctx.currentTime + 0.02;
    [[0, 988], [0.18, 1319], [0.5, 988], [0.68, 1319]].forEach(([offset, frequency]) => {
      const oscillator = ctx.createOscillator();
      const gain = ctx.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      const at = start + offset;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.4, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
      oscillator.connect(gain).connect(ctx.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.32);
    });
    return true;
  } catch (error) {
    return false;
  }
}
