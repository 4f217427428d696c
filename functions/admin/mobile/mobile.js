// 星收付 — the script of every page of the managers' app (inlined, allowed by
// its hash). Text goes into the page with textContent only, never as HTML.
(function () {
  'use strict';
  var body = document.body;
  var csrf = body.getAttribute('data-csrf') || '';
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function show(e, on) { if (e) e.hidden = !on; }

  // api calls the app's JSON API: the session cookie goes along, state
  // changes carry the session's CSRF token. It resolves with the JSON answer
  // or rejects with an Error whose message is the server's (Chinese).
  function api(method, path, data) {
    var init = { method: method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (method !== 'GET') {
      init.headers['X-CSRF-Token'] = csrf;
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(data || {});
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (r.status === 401) { // signed out (squeezed out, expired): the login page says why
          location.href = '/m/login?next=' + encodeURIComponent(location.pathname + location.search);
        }
        if (!r.ok) {
          var err = new Error((j && j.error && j.error.message) || ('请求失败（' + r.status + '）'));
          err.status = r.status;
          throw err;
        }
        return j;
      });
    }, function () { throw new Error('网络不通，请检查网络后重试'); });
  }

  var toastTimer;
  function toast(text) {
    var t = $('toast');
    if (!t) { t = el('div', 'toast'); t.id = 'toast'; t.setAttribute('role', 'status'); body.appendChild(t); }
    t.textContent = text; t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, 2500);
  }

  // yuan formats fen as ¥12,345.60.
  function yuan(fen) {
    fen = Number(fen) || 0;
    var neg = fen < 0; if (neg) fen = -fen;
    var y = String(Math.floor(fen / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    var f = String(fen % 100); if (f.length < 2) f = '0' + f;
    return (neg ? '-¥' : '¥') + y + '.' + f;
  }
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  // bj is an instant as read in Beijing (+08:00), whatever the phone's zone.
  function bj(s, short) {
    var d = new Date(s);
    if (!s || isNaN(d.getTime())) return s || '';
    var t = new Date(d.getTime() + 8 * 3600 * 1000);
    var day = t.getUTCFullYear() + '-' + pad(t.getUTCMonth() + 1) + '-' + pad(t.getUTCDate());
    var hm = pad(t.getUTCHours()) + ':' + pad(t.getUTCMinutes());
    if (short) return day.slice(5) + ' ' + hm;
    return day + ' ' + hm + ':' + pad(t.getUTCSeconds());
  }
  var channels = { wechat: '微信', alipay: '支付宝' };
  function channelName(c) { return channels[c] || c || ''; }
  function statusName(r) {
    var refunded = Number(r.refunded_fen) || 0;
    switch (r.status) {
      case 'PAID': return refunded > 0 ? '部分退款' : '已支付';
      case 'REFUNDED': return '已退款';
      case 'PENDING': case 'CREATED': return '待支付';
      case 'CLOSED': return '已关闭';
    }
    return r.status || '';
  }
  var refundStates = { REQUESTED: '退款申请中', PROCESSING: '退款处理中', SUCCEEDED: '已退款', FAILED: '退款失败' };

  // ------------------------------------------------------------ 收款码
  function home() {
    var card = $('code');
    if (!card) return;
    var codeID = card.getAttribute('data-code') || '';
    var confirmBox = $('confirm'), switchBox = $('switch');
    function openSheet(s) { show(s, true); var b = s.querySelector('button'); if (b) b.focus(); }
    function closeSheet(s) { show(s, false); }
    function askRefresh() { show($('confirm-error'), false); openSheet(confirmBox); }
    $('qr').addEventListener('click', askRefresh);
    $('act-refresh').addEventListener('click', askRefresh);
    $('more').addEventListener('click', function () {
      var open = $('actions').hidden;
      show($('actions'), open);
      this.setAttribute('aria-expanded', open ? 'true' : 'false');
      this.textContent = open ? '收起' : '展开';
    });
    $('confirm-no').addEventListener('click', function () { closeSheet(confirmBox); });
    $('confirm-yes').addEventListener('click', function () {
      var btn = this; btn.disabled = true; btn.textContent = '刷新中…';
      api('POST', '/m/api/code/refresh', codeID ? { code: codeID } : {}).then(function (j) {
        var until = (j && j.previous && j.previous.expires_at) || '';
        var picked = card.getAttribute('data-picked') && codeID ? 'code=' + encodeURIComponent(codeID) + '&' : '';
        location.replace('/m?' + picked + 'refreshed=' + encodeURIComponent(until || '1'));
      }, function (e) {
        btn.disabled = false; btn.textContent = '刷新';
        var m = $('confirm-error'); m.textContent = e.message; show(m, true);
      });
    });
    $('act-switch').addEventListener('click', function () {
      var list = $('codes');
      list.textContent = '';
      list.appendChild(el('li', 'sub', '加载中…'));
      openSheet(switchBox);
      api('GET', '/m/api/codes').then(function (j) {
        var codes = (j && j.codes) || [];
        list.textContent = '';
        if (!codes.length) { list.appendChild(el('li', 'sub', '没有可切换的收款码')); return; }
        codes.forEach(function (c, i) {
          var li = el('li'), b = el('button');
          b.type = 'button';
          var left = el('span');
          left.appendChild(el('span', 'name block', c.name || (i === 0 ? '我的收款码' : '收款码')));
          var preset = [];
          for (var k in (c.preset || {})) if (c.preset[k]) preset.push(c.preset[k]);
          left.appendChild(el('span', 'sub block', i === 0 ? '默认收款码' : (preset.length ? '预设：' + preset.join('，') : '')));
          b.appendChild(left);
          if (c.id === codeID || (!codeID && i === 0)) b.appendChild(el('span', 'on', '当前'));
          b.addEventListener('click', function () { location.href = i === 0 ? '/m' : '/m?code=' + encodeURIComponent(c.id); });
          li.appendChild(b); list.appendChild(li);
        });
      }, function (e) { list.textContent = ''; list.appendChild(el('li', 'error', e.message)); });
    });
    $('switch-close').addEventListener('click', function () { closeSheet(switchBox); });
    [confirmBox, switchBox].forEach(function (s) {
      s.addEventListener('click', function (ev) { if (ev.target === s) closeSheet(s); });
    });
    document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') { closeSheet(confirmBox); closeSheet(switchBox); } });
    // A notice from the redirect is said once: the address loses it.
    if (location.search.indexOf('refreshed=') >= 0 || location.search.indexOf('done=') >= 0) {
      history.replaceState(null, '', codeID && card.getAttribute('data-picked') ? '/m?code=' + encodeURIComponent(codeID) : '/m');
    }
  }

  // ------------------------------------------------------------ 诊断
  function diagnose() {
    var box = $('diagnose');
    if (!box) return;
    var url = box.getAttribute('data-url'), code = box.getAttribute('data-code') || '';
    var maxMs = (Number(box.getAttribute('data-max')) || 8) * 1000;
    function setCheck(id, state, text) { $('check-' + id).setAttribute('data-state', state); $(id + '-detail').textContent = text; }

    // The phone's check: load the payment page as the browser would (no
    // cookies, nothing cached), time it, within maxMs. An answer of any kind
    // (also a redirect to WeChat's authorisation) means the page is reachable.
    function phoneCheck() {
      var ctl = window.AbortController ? new AbortController() : null;
      var timer = setTimeout(function () { if (ctl) ctl.abort(); }, maxMs);
      var t0 = Date.now();
      var sep = url.indexOf('?') >= 0 ? '&' : '?';
      return fetch(url + sep + '_diag=' + t0, { mode: 'no-cors', credentials: 'omit', cache: 'no-store', redirect: 'manual', signal: ctl ? ctl.signal : undefined })
        .then(function (r) {
          var ms = Date.now() - t0;
          clearTimeout(timer);
          if (r.type === 'basic' && r.status >= 500) return { ok: false, text: '付款页面出错（HTTP ' + r.status + '）' };
          if (r.type === 'basic' && (r.status === 404 || r.status === 410)) return { ok: false, text: '付款页面提示此收款码无效或已失效' };
          return { ok: true, ms: ms, text: '付款页面正常打开（用时 ' + ms + ' 毫秒）' };
        }, function () {
          clearTimeout(timer);
          var ms = Date.now() - t0;
          return { ok: false, text: ms >= maxMs - 50 ? '本机打开付款页面超时（超过 ' + (maxMs / 1000) + ' 秒）' : '本机无法连接付款页面' };
        });
    }
    function run() {
      $('again').disabled = true;
      show($('advice'), false);
      setCheck('server', 'running', '检测中…');
      setCheck('phone', 'running', '检测中…');
      var server = api('GET', '/m/api/diagnose' + (code ? '?code=' + encodeURIComponent(code) : '')).then(function (d) {
        setCheck('server', d.ok ? 'ok' : 'fail', d.message);
        return d;
      }, function (e) {
        setCheck('server', 'fail', e.message);
        return { ok: false, advice: null };
      });
      var phone = phoneCheck().then(function (p) { setCheck('phone', p.ok ? 'ok' : 'fail', p.text); return p; });
      Promise.all([server, phone]).then(function (res) {
        var d = res[0], p = res[1], a = $('advice');
        var text = d.advice ? d.advice[p.ok ? 'phone_ok' : 'phone_failed'] : '';
        if (!text) text = p.ok ? '本机可以打开付款页面，但服务器检测失败，请联系后台管理员确认处理。' : '本机和服务器都打不开付款页面，请联系后台管理员确认处理。';
        a.textContent = text;
        a.className = 'advice' + (d.ok && p.ok ? '' : ' bad');
        a.setAttribute('data-outcome', (d.ok ? 'server-ok' : 'server-fail') + ' ' + (p.ok ? 'phone-ok' : 'phone-fail'));
        show(a, true);
        $('again').disabled = false;
      });
    }
    $('again').addEventListener('click', run);
    run();
  }

  // ------------------------------------------------------------ 收款记录
  function records() {
    var root = $('records');
    if (!root) return;
    var labels = {};
    try { labels = JSON.parse(root.getAttribute('data-labels') || '{}') || {}; } catch (e) { labels = {}; }
    var list = $('list'), end = $('end'), q = $('q'), before = $('before');
    var state = { q: '', before: '', cursor: '', done: false, loading: false, gen: 0, failed: false };
    var byID = {};

    function payerSummary(fields) {
      var vals = [];
      for (var k in (fields || {})) if (fields[k]) vals.push(fields[k]);
      return vals.join(' · ');
    }
    function row(r) {
      byID[r.id] = r;
      var li = el('li'), b = el('button');
      b.type = 'button';
      b.setAttribute('data-id', r.id);
      var left = el('span');
      left.appendChild(el('span', 'who', payerSummary(r.payer_fields) || channelName(r.channel) + '收款'));
      left.appendChild(el('span', 'when', bj(r.created_at, true)));
      var right = el('span', 'money');
      right.appendChild(el('b', null, yuan(r.amount_fen)));
      var st = statusName(r);
      right.appendChild(el('span', 'tag' + (st !== '已支付' ? ' refunded' : ''), channelName(r.channel) + (st !== '已支付' ? ' · ' + st : '')));
      b.appendChild(left); b.appendChild(right);
      b.addEventListener('click', function () { openDetail(r.id, true); });
      li.appendChild(b);
      return li;
    }
    function endText() {
      if (state.failed) return;
      if (state.done) end.textContent = list.children.length ? '没有更多了' : (state.q || state.before ? '没有找到相关记录' : '还没有收款记录');
      else end.textContent = state.loading ? '加载中…' : '';
    }
    function load() {
      if (state.loading || state.done) return;
      state.loading = true; state.failed = false; endText();
      var gen = state.gen;
      var qs = 'q=' + encodeURIComponent(state.q) + '&before=' + encodeURIComponent(state.before) + '&cursor=' + encodeURIComponent(state.cursor);
      api('GET', '/m/api/records?' + qs).then(function (j) {
        if (gen !== state.gen) return; // an answer to an older search
        state.loading = false;
        var frag = document.createDocumentFragment();
        ((j && j.records) || []).forEach(function (r) { frag.appendChild(row(r)); });
        list.appendChild(frag);
        state.cursor = (j && j.next) || '';
        state.done = !state.cursor;
        endText();
        if (!state.done && nearEnd()) load(); // a short page that does not fill the screen
      }, function (e) {
        if (gen !== state.gen) return;
        state.loading = false; state.failed = true;
        end.textContent = e.message + '，点此重试';
      });
    }
    function nearEnd() { return end.getBoundingClientRect().top < window.innerHeight + 300; }
    function restart() {
      state.gen++; state.cursor = ''; state.done = false; state.loading = false; state.failed = false;
      list.textContent = ''; byID = {};
      window.scrollTo(0, 0);
      load();
    }
    end.addEventListener('click', function () { if (state.failed) load(); });
    if (window.IntersectionObserver) {
      // An entry can arrive after the page it saw changed (the list grew): ask again.
      new IntersectionObserver(function (es) { if (es[0].isIntersecting && nearEnd()) load(); }, { rootMargin: '300px' }).observe(end);
    } else {
      window.addEventListener('scroll', function () { if (nearEnd()) load(); }, { passive: true });
    }
    var typing;
    q.addEventListener('input', function () {
      clearTimeout(typing);
      typing = setTimeout(function () { if (q.value.trim() !== state.q) { state.q = q.value.trim(); restart(); } }, 400);
    });
    $('search').addEventListener('submit', function (ev) {
      ev.preventDefault(); clearTimeout(typing); q.blur();
      state.q = q.value.trim(); restart();
    });
    before.addEventListener('click', function () { try { if (before.showPicker) before.showPicker(); } catch (e) { /* the browser opens it itself */ } });
    before.addEventListener('change', function () { setBefore(before.value); });
    $('cutoff-clear').addEventListener('click', function () { before.value = ''; setBefore(''); });
    function setBefore(v) {
      state.before = /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : '';
      $('cutoff-text').textContent = state.before ? '显示 ' + state.before + '（含）之前的收款' : '';
      show($('cutoff'), !!state.before);
      $('date-label').classList.toggle('on', !!state.before);
      restart();
    }

    // The detail: over the list (which keeps its place); Back closes it.
    var panel = $('detail');
    function fillDetail(r) {
      $('d-amount').textContent = yuan(r.amount_fen);
      var st = statusName(r);
      if (Number(r.refunded_fen) > 0 && r.status === 'PAID') st += '（已退 ' + yuan(r.refunded_fen) + '）';
      $('d-status').textContent = st;
      $('d-status').className = 'status' + (r.status === 'PAID' && !(Number(r.refunded_fen) > 0) ? '' : ' refunded');
      $('d-time').textContent = bj(r.created_at) + '（北京时间）';
      $('d-channel').textContent = channelName(r.channel);
      $('d-id').textContent = r.id;
      var dl = $('d-payer'); dl.textContent = '';
      var any = false;
      // The detail's fields come labelled, in the configured order; a row
      // of the list has the values by key (labelled from the page's map).
      var fields = r.fields;
      if (!fields) {
        fields = [];
        for (var k in (r.payer_fields || {})) fields.push({ key: k, label: labels[k], value: r.payer_fields[k] });
      }
      fields.forEach(function (f) {
        if (!f.value) return;
        any = true;
        var d = el('div'); d.appendChild(el('dt', null, f.label || labels[f.key] || f.key)); d.appendChild(el('dd', null, f.value)); dl.appendChild(d);
      });
      if (!any) { var n = el('div'); n.appendChild(el('dt', null, '（未填写）')); dl.appendChild(n); }
      var refunds = r.refunds || [], ul = $('d-refunds');
      ul.textContent = '';
      refunds.forEach(function (f) {
        var li = el('li');
        li.appendChild(el('b', null, yuan(f.amount_fen)));
        li.appendChild(el('span', null, refundStates[f.status] || f.status || ''));
        li.appendChild(el('span', 'sub block', bj(f.succeeded_at || f.created_at) + (f.reason ? ' · ' + f.reason : '')));
        ul.appendChild(li);
      });
      show($('d-refunds-box'), refunds.length > 0);
    }
    function openDetail(id, push) {
      var r = byID[id];
      show($('d-error'), false);
      if (r) fillDetail(r);
      show(panel, true);
      body.style.overflow = 'hidden';
      if (push) history.pushState({ record: id }, '', '#' + encodeURIComponent(id));
      $('detail-back').focus();
      api('GET', '/m/api/records/' + encodeURIComponent(id)).then(function (full) {
        if (panel.hidden || !full) return;
        fillDetail(full);
      }, function (e) { var m = $('d-error'); m.textContent = e.message; show(m, true); });
    }
    function closeDetail() { show(panel, false); body.style.overflow = ''; }
    $('detail-back').addEventListener('click', function () {
      if (history.state && history.state.record) history.back(); else closeDetail();
    });
    window.addEventListener('popstate', function (ev) {
      if (ev.state && ev.state.record) openDetail(ev.state.record, false); else closeDetail();
    });
    if (location.hash.length > 1) history.replaceState(null, '', location.pathname);
    load();
  }

  // ------------------------------------------------------------ 设置
  function settings() {
    var sw = $('notify');
    if (!sw) return;
    sw.addEventListener('change', function () {
      var want = sw.checked;
      sw.disabled = true;
      api('PUT', '/m/api/settings', { notify_payments: want }).then(function (s) {
        sw.checked = !!s.notify_payments;
        sw.disabled = false;
        $('notify-state').textContent = s.notify_payments ? '已开启收款成功通知' : '已关闭收款成功通知';
        toast(s.notify_payments ? '已开启' : '已关闭');
        var p = $('problem'); if (p && !s.problem) show(p, false);
      }, function (e) {
        sw.checked = !want;
        sw.disabled = false;
        $('notify-state').textContent = e.message;
        toast('保存失败');
      });
    });
  }

  // Forms: one press sends once.
  Array.prototype.forEach.call(document.querySelectorAll('form[method=post]'), function (f) {
    f.addEventListener('submit', function () {
      var b = f.querySelector('button[type=submit]');
      if (b) setTimeout(function () { b.disabled = true; }, 0);
    });
  });

  switch (body.getAttribute('data-page')) {
    case 'home': home(); break;
    case 'diagnose': diagnose(); break;
    case 'records': records(); break;
    case 'settings': settings(); break;
  }
})();
