// The critical-alert sound: three short rising tones made with WebAudio (no sound file to ship).
// Browsers may refuse audio until the page has been clicked; then it stays silent, quietly: a
// blocked or missing AudioContext must never disturb the page, let alone log an error.

import { playTones } from "/static/js/audio.js";

const MUTE_KEY = "callwise.manager.muted";

export function isMuted() {
  return localStorage.getItem(MUTE_KEY) === "1";
}

export function setMuted(muted) {
  localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
}

/** Play the alarm unless muted. Returns whether a sound was scheduled. */
export function playAlarm() {
  if (isMuted()) return false;
  return playTones([[0, 660], [0.22, 880], [0.44, 1100]], { type: "triangle", length: 0.2 });
}
