// 收款播报 — the spoken payment announcements of the cashier console
// (/admin/announce) and the managers' app (/m). Inlined, allowed by its hash;
// text goes into the page with textContent only, never as HTML.
//
// The switch is the user gesture browsers require before a page may make a
// sound. Once on, the page polls the "since" endpoint (every 3 s while
// visible, 15 s when hidden), lists each payment once (newest first) and
// speaks each once, in order, one after another: with the browser's speech
// synthesis when it has a zh-CN voice, else with the short clips of
// /admin/voice (Web Audio, one sequence per payment). Payments that came
// before the switch was turned on are listed, not spoken. Repeats are
// dropped by event id. window.announceLog records what was queued.
(function () {
  'use strict';
  var root = document.getElementById('announce');
  if (!root) { return; }
  var api = root.getAttribute('data-api');
  var voiceBase = root.getAttribute('data-voice');
  var voiceVersion = root.getAttribute('data-voice-version');
  var toggle = document.getElementById('announce-on');
  var stateEl = document.getElementById('announce-state');
  var list = document.getElementById('announce-list');
  var empty = document.getElementById('announce-empty');
  var filter = document.getElementById('announce-community');
  var asTable = list && list.tagName === 'TBODY';

  var POLL_MS = 3000, HIDDEN_POLL_MS = 15000, MAX_LISTED = 50, MAX_SEEN = 2000;
  var on = false, started = false, timer = null, inFlight = false;
  var cursor = '', seen = {}, seenOrder = [], items = [], polls = 0;
  var queue = [], speaking = false, spoken = 0;
  var mode = '', zh = null, audio = null, buffers = {};
  var log = window.announceLog = [];

  function setState(text, state) {
    if (stateEl) {
      stateEl.textContent = text;
      stateEl.className = (stateEl.getAttribute('data-class') || 'tag') + ' ' + (state === 'on' ? 'ok' : state === 'error' ? 'bad' : 'warn');
    }
    root.setAttribute('data-state', state);
  }

  // ---------------------------------------------------------------- speech

  function zhVoice() {
    if (!window.speechSynthesis || typeof window.SpeechSynthesisUtterance === 'undefined') { return null; }
    var vs = window.speechSynthesis.getVoices() || [], i, any = null;
    for (i = 0; i < vs.length; i++) {
      var lang = (vs[i].lang || '').replace('_', '-').toLowerCase();
      if (lang === 'zh-cn' || lang === 'cmn-cn' || lang === 'zh-hans-cn') { return vs[i]; }
      if (!any && (lang.indexOf('zh') === 0 || lang.indexOf('cmn') === 0) && lang !== 'zh-hk') { any = vs[i]; }
    }
    return any;
  }

  function chooseMode() {
    zh = zhVoice();
    mode = zh ? 'speech' : 'clips';
    root.setAttribute('data-mode', mode);
  }

  if (window.speechSynthesis && window.speechSynthesis.addEventListener) {
    // Voices load late in some browsers: a zh-CN voice found later is used from then on.
    window.speechSynthesis.addEventListener('voiceschanged', function () { if (on && mode !== 'speech') { chooseMode(); showOn(); } });
  }

  function unlockAudio() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) { return; }
    if (!audio) { audio = new AC(); }
    if (audio.state === 'suspended' && audio.resume) { audio.resume(); }
    var src = audio.createBufferSource();
    src.buffer = audio.createBuffer(1, 1, 22050);
    src.connect(audio.destination);
    src.start(0);
  }

  function clip(key) {
    if (!buffers[key]) {
      buffers[key] = fetch(voiceBase + key + '.wav?v=' + encodeURIComponent(voiceVersion), { credentials: 'omit' })
        .then(function (r) { if (!r.ok) { throw new Error('clip ' + key + ': ' + r.status); } return r.arrayBuffer(); })
        .then(function (b) { return new Promise(function (ok, fail) { audio.decodeAudioData(b, ok, fail); }); });
      buffers[key].catch(function () { delete buffers[key]; });
    }
    return buffers[key];
  }

  function once(fn) {
    var done = false;
    return function () { if (!done) { done = true; fn(); } };
  }

  function playClips(keys, done) {
    if (!audio) { done(); return; }
    Promise.all(keys.map(clip)).then(function (bufs) {
      var t = audio.currentTime + 0.05, last = null;
      bufs.forEach(function (b) {
        var s = audio.createBufferSource();
        s.buffer = b;
        s.connect(audio.destination);
        s.start(t);
        t += b.duration;
        last = s;
      });
      if (!last) { done(); return; }
      last.onended = done;
      setTimeout(done, (t - audio.currentTime) * 1000 + 1500); // a suspended context must not stop the queue
    }, function () { done(); });
  }

  function say(text, done) {
    var u = new window.SpeechSynthesisUtterance(text);
    u.lang = 'zh-CN';
    if (zh) { u.voice = zh; }
    u.onend = done;
    u.onerror = done;
    setTimeout(done, 20000); // a stuck engine must not stop the queue
    window.speechSynthesis.speak(u);
  }

  function enqueue(it) {
    var entry = { id: it.id, mode: mode, text: it.spoken, clips: (it.clips || []).slice() };
    log.push(entry);
    queue.push(entry);
    next();
  }

  function next() {
    if (speaking || !queue.length) { return; }
    var e = queue.shift();
    speaking = true;
    var done = once(function () {
      speaking = false;
      spoken++;
      root.setAttribute('data-spoken', String(spoken));
      next();
    });
    if (e.mode === 'speech') { say(e.text, done); } else { playClips(e.clips, done); }
  }

  // ---------------------------------------------------------------- list

  function visible(it) { return !filter || !filter.value || it.community_id === filter.value; }

  function row(it) {
    var cells = [it.time, it.channel, it.amount, it.community_name || ''];
    var tr;
    if (asTable) {
      tr = document.createElement('tr');
      cells.forEach(function (c, i) {
        var td = document.createElement('td');
        td.textContent = c;
        if (i === 2) { td.className = 'num'; }
        tr.appendChild(td);
      });
    } else {
      tr = document.createElement('li');
      var left = document.createElement('span'), right = document.createElement('b');
      left.textContent = it.time + ' · ' + it.channel + (it.community_name ? ' · ' + it.community_name : '');
      right.textContent = '¥' + it.amount;
      tr.appendChild(left);
      tr.appendChild(right);
    }
    tr.setAttribute('data-id', it.id);
    return tr;
  }

  function render() {
    if (!list) { return; }
    list.textContent = '';
    var n = 0;
    for (var i = items.length - 1; i >= 0 && n < MAX_LISTED; i--) {
      if (visible(items[i])) { list.appendChild(row(items[i])); n++; }
    }
    if (empty) { empty.hidden = n > 0; }
  }

  function take(got, speak) {
    var added = false;
    got.forEach(function (it) {
      if (!it || !it.id || seen[it.id]) { return; }
      seen[it.id] = true;
      seenOrder.push(it.id);
      if (seenOrder.length > MAX_SEEN) { delete seen[seenOrder.shift()]; }
      items.push(it);
      added = true;
      if (speak && on && visible(it)) { enqueue(it); }
    });
    if (items.length > MAX_LISTED * 4) { items = items.slice(-MAX_LISTED * 2); }
    if (added || !started) { render(); }
  }

  if (filter) { filter.addEventListener('change', render); }

  // ---------------------------------------------------------------- polling

  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = on ? setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS) : null;
  }

  function fetchSince(speak) {
    inFlight = true;
    var url = api + (cursor ? '?since=' + encodeURIComponent(cursor) : '');
    return fetch(url, { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'application/json' } })
      .then(function (r) {
        if (!r.ok) { throw r.status; }
        return r.json();
      })
      .then(function (j) {
        inFlight = false;
        take(j.items || [], speak);
        if (j.cursor) { cursor = j.cursor; }
        started = true;
        polls++;
        root.setAttribute('data-polls', String(polls));
      }, function (s) {
        inFlight = false;
        throw s;
      });
  }

  function showOn() {
    setState(mode === 'speech' ? '播报已开启（浏览器语音）' : '播报已开启（内置语音）', 'on');
  }

  function poll() {
    timer = null;
    if (!on || inFlight) { schedule(); return; }
    fetchSince(true).then(function () { showOn(); schedule(); }, failed);
  }

  function failed(s) {
    if (s === 401) {
      stop();
      setState('登录已过期，请重新登录后开启', 'error');
      return;
    }
    if (s === 400) { cursor = ''; } // a stale cursor: start again from the newest
    setState('网络异常，正在重试…', 'error');
    schedule();
  }

  function start() {
    on = true;
    chooseMode();
    if (mode === 'clips') {
      unlockAudio();
    } else { // speaking inside the click unlocks speech where it must be (iOS), and says it works
      window.speechSynthesis.cancel();
      var hello = new window.SpeechSynthesisUtterance('语音播报已开启');
      hello.lang = 'zh-CN';
      if (zh) { hello.voice = zh; }
      window.speechSynthesis.speak(hello);
    }
    setState('正在开启…', 'starting');
    // What came while off is listed, not spoken; from here on, every payment is.
    fetchSince(false).then(function () { showOn(); schedule(); }, failed);
  }

  function stop() {
    on = false;
    if (toggle) { toggle.checked = false; }
    if (timer) { clearTimeout(timer); timer = null; }
    queue = [];
    setState('请点击开启', 'off');
  }

  if (toggle) {
    toggle.checked = false;
    toggle.addEventListener('change', function () { if (toggle.checked) { start(); } else { stop(); } });
  }
  document.addEventListener('visibilitychange', function () { if (on && !document.hidden) { schedule(); } });

  setState('请点击开启', 'off');
  fetchSince(false).catch(function () { render(); }); // the recent payments, listed at once
})();
