// Package e2e holds browser tests: headless Chromium (driven by chromedp) pays
// through the product's real pages on the local stack (infra/local/stacktest),
// the way a resident scanning a collection code with WeChat or Alipay would.
//
// The tests need a Chromium binary at /usr/bin/chromium or $CHROME_PATH;
// .ci/install-browser installs Debian's.
package e2e
