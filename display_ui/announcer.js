// Announcing calls in the hall: a chime made with WebAudio, then the call spoken in each configured
// language with the Web Speech API where the browser has a voice for it, or else with the server's
// voice (espeak-ng, GET /api/v1/announcements/voice.wav), as `[display] voice` says. Announcements wait their
// turn, so calls made close together are heard one after another. Nothing here may break the page:
// without audio, speech or voices the text is still shown (the page puts it on screen and in its
// aria-live region), and every step has a time limit so the queue never stalls.

import { audioContext } from "/static/js/audio.js";

const CHIME_MS = 1250;            // the two notes; speech starts as the second one fades
const TEXT_ONLY_MS = 2600;        // how long a call stays up per language when nobody speaks it
const BETWEEN_LANGUAGES_MS = 350;
const AFTER_ANNOUNCEMENT_MS = 600;
const MAX_WAITING = 8;            // after a long outage, the oldest unspoken calls give way

const VOICE_PREFERENCES = { zh: ["zh-cn", "zh-hans", "cmn", "zh"], en: ["en-gb", "en-us", "en"] };
const SPEECH_LANG = { zh: "zh-CN", en: "en-GB" };

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const SERVER_VOICE_MS = 15000;    // the longest a server-rendered announcement may take, fetch included

/** Who speaks a language on this display: "browser", "server" or "none" (see voiceFor / `[display] voice`). */
export function voiceSource(mode, browserHasVoice, serverVoice) {
  if (mode === "off") return "none";
  if (mode !== "server" && browserHasVoice) return "browser";
  if (mode !== "browser" && serverVoice) return "server";
  return "none";
}

/** "A012" -> "A 0 1 2": voices read a ticket number digit by digit, as staff say it, not "A twelve". */
export function spokenNumber(number) {
  return String(number).split("").join(" ");
}

/** What is shown and what is said for a call, per language: {lang, text, speech}. */
export function callTexts(call, languages) {
  const texts = [];
  for (const lang of languages) {
    const shown = TEMPLATES[lang];
    if (!shown) continue;
    texts.push({
      lang,
      text: shown(call.number, call.counter, call.recall),
      speech: shown(spokenNumber(call.number), call.counter, call.recall),
    });
  }
  return texts;
}

const TEMPLATES = {
  zh: (number, counter, recall) => `${recall ? "再次呼叫，" : ""}请 ${number} 号到 ${counter} 号窗口`,
  en: (number, counter, recall) => `${recall ? "Recall: ticket" : "Ticket"} ${number}, please go to counter ${counter}`,
};

/**
 * createAnnouncer({onStart(call, texts), onDone(call), onSoundBlocked(blocked), onServerVoice(lang)})
 * announce(call, languages) queues one announcement; onStart fires when its turn comes.
 * configure({mode, serverVoice, token}): `[display] voice` and whether the server has espeak-ng.
 */
export function createAnnouncer({
  onStart = () => {}, onDone = () => {}, onSoundBlocked = () => {}, onServerVoice = () => {},
} = {}) {
  const waiting = [];
  let running = false;
  const settings = { mode: "auto", serverVoice: false, token: null };

  async function soundReady() {
    const context = audioContext();
    if (!context) return false;
    if (context.state !== "running") {
      // Without a user gesture (and without the kiosk's autoplay flag) resume() stays pending: give up
      // quickly and ask for a tap instead.
      try {
        await Promise.race([context.resume(), wait(250)]);
      } catch (error) {
        /* the state check below decides */
      }
    }
    const ready = context.state === "running";
    onSoundBlocked(!ready);
    return ready;
  }

  function note(context, frequency, start, length) {
    const gain = context.createGain();
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.35, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
    gain.connect(context.destination);
    // A sine with a quiet octave above it: a soft bell rather than a beep.
    for (const [multiple, level] of [[1, 1], [2, 0.18], [3, 0.06]]) {
      const oscillator = context.createOscillator();
      const partial = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency * multiple;
      partial.gain.value = level;
      oscillator.connect(partial).connect(gain);
      oscillator.start(start);
      oscillator.stop(start + length + 0.05);
    }
  }

  async function chime() {
    if (!(await soundReady())) return wait(400);
    try {
      const audio = audioContext();
      const start = audio.currentTime + 0.05;
      note(audio, 659.25, start, 0.8);         // E5 ...
      note(audio, 523.25, start + 0.42, 1.1);  // ... C5: "ding-dong"
    } catch (error) {
      return wait(400);
    }
    return wait(CHIME_MS);
  }

  function voiceFor(lang) {
    const synth = window.speechSynthesis;
    if (!synth || typeof window.SpeechSynthesisUtterance !== "function") return null;
    let voices = [];
    try {
      voices = synth.getVoices() || [];
    } catch (error) {
      return null;
    }
    const tag = (voice) => String(voice.lang || "").toLowerCase().replace("_", "-");
    for (const prefix of VOICE_PREFERENCES[lang] || [lang]) {
      const matching = voices.filter((voice) => tag(voice).startsWith(prefix));
      // A voice on the machine itself works without the internet, which a branch LAN may not have.
      const found = matching.find((voice) => voice.localService) || matching[0];
      if (found) return found;
    }
    return null;
  }

  function sourceFor(lang) {
    return voiceSource(settings.mode, Boolean(voiceFor(lang)), settings.serverVoice);
  }

  /** The call as the server says it: fetched (the server keeps each render), then played through WebAudio. */
  async function playServerVoice(lang, call) {
    const context = audioContext();
    const query = new URLSearchParams({
      number: call.number, counter: String(call.counter), lang, recall: call.recall ? "1" : "0",
    });
    const limit = wait(SERVER_VOICE_MS);
    const play = (async () => {
      const response = await fetch(`/api/v1/announcements/voice.wav?${query}`, {
        headers: settings.token ? { Authorization: `Bearer ${settings.token}` } : {},
      });
      if (!response.ok) throw new Error(`voice: ${response.status}`);
      const bytes = await response.arrayBuffer();
      onServerVoice(lang, bytes.byteLength);
      if (!context || context.state !== "running") return wait(TEXT_ONLY_MS);
      const buffer = await context.decodeAudioData(bytes);
      const source = context.createBufferSource();
      source.buffer = buffer;
      source.connect(context.destination);
      await new Promise((resolve) => {
        source.onended = resolve;
        source.start();
      });
      return undefined;
    })().catch(() => wait(TEXT_ONLY_MS));
    return Promise.race([play, limit]);
  }

  function speak(lang, speech, call) {
    const source = sourceFor(lang);
    if (source === "server") return playServerVoice(lang, call);
    const voice = source === "browser" ? voiceFor(lang) : null;
    if (!voice) return wait(TEXT_ONLY_MS);
    const synth = window.speechSynthesis;
    return new Promise((resolve) => {
      let finished = false;
      const limit = setTimeout(() => {
        try {
          synth.cancel();
        } catch (error) {
          /* nothing more to stop */
        }
        finish();
      }, 3000 + speech.length * 220);
      function finish() {
        if (finished) return;
        finished = true;
        clearTimeout(limit);
        resolve();
      }
      try {
        const utterance = new SpeechSynthesisUtterance(speech);
        utterance.voice = voice;
        utterance.lang = voice.lang || SPEECH_LANG[lang] || lang;
        utterance.rate = 0.9;
        // "not-allowed" (no user activation yet), "synthesis-failed", ...: the text is on screen anyway.
        utterance.onerror = finish;
        utterance.onend = finish;
        synth.speak(utterance);
      } catch (error) {
        finish();
      }
    });
  }

  async function run() {
    if (running) return;
    running = true;
    try {
      while (waiting.length) {
        const { call, texts } = waiting.shift();
        try {
          onStart(call, texts);
          await chime();
          for (const [index, entry] of texts.entries()) {
            if (index) await wait(BETWEEN_LANGUAGES_MS);
            await speak(entry.lang, entry.speech, call);
          }
          onDone(call);
        } catch (error) {
          /* one bad announcement must not silence the hall: go on with the next */
        }
        await wait(AFTER_ANNOUNCEMENT_MS);
      }
    } finally {
      running = false;
    }
  }

  // Chromium loads voices lazily; asking once early makes them ready by the first call.
  try {
    if (window.speechSynthesis) window.speechSynthesis.getVoices();
  } catch (error) {
    /* no speech on this browser */
  }

  return {
    configure(options) {
      Object.assign(settings, options);
    },
    /** Who speaks each language now: {zh: "browser" | "server" | "none", ...}. */
    sources(languages) {
      return Object.fromEntries(languages.map((lang) => [lang, sourceFor(lang)]));
    },
    announce(call, languages) {
      waiting.push({ call, texts: callTexts(call, languages) });
      if (waiting.length > MAX_WAITING) waiting.splice(0, waiting.length - MAX_WAITING);
      run();
    },
    /** After a tap or key press: the browser now lets the page make sound. */
    unlock() {
      const context = audioContext();
      if (context && context.state !== "running") {
        context.resume().then(() => onSoundBlocked(false), () => {});
      }
    },
    get pending() {
      return waiting.length + (running ? 1 : 0);
    },
  };
}
