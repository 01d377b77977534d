// The critical-alert sound: three short rising tones made with WebAudio (no sound file to ship).
// Browsers may refuse audio until the page has been clicked; then it stays silent, quietly: a
// blocked or missing AudioContext must never disturb the page, let alone log an error.

import { audioContext } from "/static/js/audio.js";

const MUTE_KEY = "callwise.manager.muted";

export function isMuted() {
  return localStorage.getItem(MUTE_KEY) === "1";
}

export function setMuted(muted) {
  localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
}

/** Call from a click or key press: lets the browser start audio later without one. */
export function unlockAudio() {
  const ctx = audioContext();
  if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
}

/** Play the alarm unless muted. Returns whether a sound was scheduled. */
export function playAlarm() {
  if (isMuted()) return false;
  const ctx = audioContext();
  if (!ctx) return false;
  try {
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    const start = ctx.currentTime + 0.02;
    [660, 880, 1100].forEach((frequency, i) => {
      const oscillator = ctx.createOscillator();
      const gain = ctx.createGain();
      oscillator.type = "triangle";
      oscillator.frequency.value = frequency;
      const at = start + i * 0.22;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
      oscillator.connect(gain).connect(ctx.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.21);
    });
    return true;
  } catch (error) {
    return false;
  }
}
