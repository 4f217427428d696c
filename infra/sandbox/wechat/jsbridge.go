package wechat

import (
	"net/http"
)

// jsBridge defines window.WeixinJSBridge. invoke('getBrandWCPayRequest')
// opens the sandbox cashier in a full-screen iframe and reports the person's
// choice to the callback, as WeChat's in-app browser does.
const jsBridge = `(function () {
  if (window.WeixinJSBridge && !window.WeixinJSBridge.__sandbox) { return; }
  var script = document.currentScript;
  var base = script && script.src ? script.src.replace(/\/sandbox\/jsbridge\.js.*$/, "") : "";
  var origin = base ? new URL(base, location.href).origin : location.origin;
  var pending = null;
  function finish(res) {
    var p = pending;
    pending = null;
    if (!p) { return; }
    if (p.frame.parentNode) { p.frame.parentNode.removeChild(p.frame); }
    if (typeof p.cb === "function") { p.cb(res); }
  }
  window.addEventListener("message", function (e) {
    if (e.origin !== origin || !e.data || e.data.source !== "wxsandbox") { return; }
    if (pending && e.source === pending.frame.contentWindow) { finish({ err_msg: e.data.err_msg }); }
  });
  window.WeixinJSBridge = {
    __sandbox: true,
    invoke: function (name, params, cb) {
      if (name !== "getBrandWCPayRequest") {
        if (typeof cb === "function") { cb({ err_msg: name + ":fail_not_supported" }); }
        return;
      }
      if (pending) { finish({ err_msg: "get_brand_wcpay_request:fail" }); }
      params = params || {};
      var q = ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"].map(function (k) {
        return encodeURIComponent(k) + "=" + encodeURIComponent(params[k] == null ? "" : String(params[k]));
      }).join("&");
      var frame = document.createElement("iframe");
      frame.id = "wxsandbox-cashier";
      frame.title = "微信支付";
      frame.src = base + "/sandbox/cashier?" + q;
      frame.style.cssText = "position:fixed;top:0;left:0;width:100%;height:100%;border:0;margin:0;padding:0;z-index:2147483647;background:#ededed";
      pending = { frame: frame, cb: cb };
      document.body.appendChild(frame);
    },
    on: function () {},
    call: function () {}
  };
  function ready() {
    var ev;
    try { ev = new Event("WeixinJSBridgeReady"); } catch (err) { ev = document.createEvent("Event"); ev.initEvent("WeixinJSBridgeReady", true, true); }
    document.dispatchEvent(ev);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setTimeout(ready, 0); });
  } else {
    setTimeout(ready, 0);
  }
})();
`

func (s *Server) handleJSBridge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write([]byte(jsBridge))
}
