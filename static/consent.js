// Consentry banner: consent UI, Google Consent Mode v2 signals and script gating.
// Served as GET /consent.js after src/http/script_bundle.rs has stripped full-line comments,
// trimmed every line and inlined consent.css in place of the placeholder string below.
// Rules for this file: semicolons everywhere, no multi-line template literals, no block
// comments, and a `//` only at the start of a comment line or inside a string.
(function () {
  'use strict';
  var w = window, d = document, N = navigator;
  var dl = w.dataLayer = w.dataLayer || [];
  if (typeof w.gtag != 'function') {
    w.gtag = function () { dl.push(arguments); };
  }
  var G = 'granted', D = 'denied';
  // Consent Mode v2: analytics -> analytics_storage; marketing -> the three ad signals.
  var gcm = function (t, c) {
    var m = c.marketing ? G : D;
    var o = {ad_storage: m, ad_user_data: m, ad_personalization: m, analytics_storage: c.analytics ? G : D};
    if (t == 'default') {
      o.functionality_storage = o.security_storage = G;
      o.wait_for_update = 500;
    }
    w.gtag('consent', t, o);
  };
  // Before anything else: everything non-essential is denied.
  gcm('default', {});

  var me = d.currentScript || d.querySelector('script[data-site]');
  var site = me && me.getAttribute('data-site');
  if (!site) return;
  var CSS = "__CONSENTRY_CSS__";
  var api = new URL('api/v1/sites/' + encodeURIComponent(site) + '/', new URL('.', me.src)).href;
  var lang = (d.documentElement.lang || N.language || 'en').slice(0, 2).toLowerCase();
  var gpc = N.globalPrivacyControl === true;
  var CK = 'consentry', MAXAGE = 34128000;
  var sec = location.protocol == 'https:' ? '; Secure' : '';
  // cfg: the banner config; rec: the current valid record; ch: its choices.
  var cfg, rec = null, ch = {}, act = {}, lock = {}, lsn = [], ck = readCk();
  var busy, sheet, root, bn, bt, bd, bb, ov, dg, rt, fab, toast, inp, op, gnotes, pls = [], emb = [];

  // The hosted policy page, reached from a site's banner: the site's consent id came in the
  // fragment (never sent to a server, never in a Referer). Drop it from the address. If the
  // link was followed from one of the site's own origins (the page lists them in the script
  // tag's data-policy-page), keep the id in this origin's cookie and load the page again so
  // the server renders it for that id; a link from anywhere else (a mail, another site) is
  // not adopted.
  var hosted = me.hasAttribute('data-policy-page');
  var handed = hosted && /^#consent=([0-7][0-9a-hjkmnp-tv-z]{25})$/.exec(location.hash);
  if (handed) {
    history.replaceState(null, '', location.pathname + location.search);
    var from = d.referrer && new URL(d.referrer).origin;
    var ours = me.getAttribute('data-policy-page').split(' ').indexOf(from) >= 0;
    if (from && ours && (!ck || ck.id != handed[1])) {
      d.cookie = CK + '=' + handed[1] + '..; path=/; SameSite=Lax; max-age=' + MAXAGE + sec;
      return location.reload();
    }
  }

  function readCk() {
    var m = d.cookie.match(/(?:^|;\s*)consentry=([^;]*)/);
    try {
      var p = m[1].split('.').map(decodeURIComponent);
      return p[0] ? {id: p[0], v: p[1], g: p[2]} : null;
    } catch (e) {
      return null;
    }
  }
  var enc = function (s) { return encodeURIComponent(s).replace(/\./g, '%2E'); };
  function setCk(r) {
    var age = Math.min((Date.parse(r.expires_at) - Date.now()) / 1e3 | 0 || MAXAGE, (cfg.consent_max_age_days || 395) * 86400, MAXAGE);
    var g = Object.keys(r.choices || {}).filter(function (k) { return r.choices[k]; }).map(enc).join('+');
    d.cookie = CK + '=' + enc(r.consent_id) + '.' + enc(r.policy_version) + '.' + g + '; path=/; SameSite=Lax; max-age=' + age + sec;
    ck = {id: r.consent_id};
  }
  // Expire a cookie on path=/ for this host and each parent domain.
  function delCk(n) {
    var h = location.hostname.split('.'), i = 0;
    d.cookie = n + '=; path=/; max-age=0';
    for (; i < h.length - 1; i++) {
      d.cookie = n + '=; path=/; max-age=0; domain=' + h.slice(i).join('.');
    }
  }
  // Delete the declared cookies (a trailing * is a prefix) of every optional category not granted.
  function purge() {
    var names = d.cookie.split(';').map(function (c) { return c.split('=')[0].trim(); });
    cfg.categories.forEach(function (c) {
      if (c.required || ch[c.id]) return;
      (c.services || []).forEach(function (s) {
        (s.cookies || []).forEach(function (k) {
          var n = k.name, p = n.slice(-1) == '*' && n.slice(0, -1);
          names.forEach(function (x) {
            if (p ? x.indexOf(p) == 0 : x == n) delCk(x);
          });
        });
      });
    });
  }

  function req(path, body, m) {
    var o = {credentials: 'omit', method: m};
    if (body) {
      o.method = 'POST';
      o.headers = {'Content-Type': 'application/json'};
      o.body = JSON.stringify(body);
    }
    return fetch(api + path, o).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return {s: r.status, j: j}; });
    });
  }

  var opt = function (f) {
    var o = {};
    cfg.categories.forEach(function (c) { if (!c.required) o[c.id] = f(c); });
    return o;
  };
  // A category an opt-out signal turns off (the server's flag, else the marketing category).
  var sale = function (c) { return 'sale_or_sharing' in c ? c.sale_or_sharing : c.id == 'marketing'; };
  var gpcOn = function () { return gpc || cfg.gpc === true; };

  // Record a decision; the server's answer is what gets applied.
  function send(action, choices) {
    var b = {action: action, choices: choices || {}, policy_version: cfg.policy_version, url: location.href, language: cfg.language || lang, gpc: gpc, variant: cfg.variant || undefined};
    if (ck) b.consent_id = ck.id;
    return req('consents', b).then(function (x) {
      if (x.s == 201) {
        if (gpcOn()) {
          Object.keys(b.choices).forEach(function (k) { if (b.choices[k] && !x.j.choices[k]) lock[k] = 1; });
        }
        commit(x.j);
        return x.j;
      }
      if (x.s == 404 && ck) {
        ck = null;
        delCk(CK);
        return send(action, choices);
      }
      if (x.s == 409) {
        load();
      }
      throw new Error('consentry: ' + x.s);
    });
  }

  function commit(r) {
    var reload = 0;
    rec = r;
    ch = r.choices || {};
    setCk(r);
    phref();
    gcm('update', ch);
    cfg.categories.forEach(function (c) { if (!ch[c.id] && act[c.id]) reload = 1; });
    purge();
    sync();
    fire();
    tk();
    if (reload) return location.reload();
    activate();
  }

  function fire() {
    var x = {consent_id: rec ? rec.consent_id : null, choices: Object.assign({}, ch)};
    lsn.forEach(function (f) {
      try { f(x); } catch (e) { setTimeout(function () { throw e; }); }
    });
    w.dispatchEvent(new CustomEvent('consentry:change', {detail: x}));
  }

  // Activate gated scripts (in document order, one after the other) and iframes.
  function activate() {
    var q = [].filter.call(d.querySelectorAll('script[type="text/plain"][data-category]'), function (o) {
      return ch[o.dataset.category] && !o.cst && (o.cst = 1);
    });
    var next = function () {
      var o = q.shift();
      if (!o) return;
      var n = d.createElement('script'), src = o.getAttribute('src');
      [].forEach.call(o.attributes, function (a) {
        if (a.name != 'type' && a.name != 'data-type') n.setAttribute(a.name, a.value);
      });
      if (o.dataset.type) n.type = o.dataset.type;
      if (o.nonce) n.nonce = o.nonce;
      act[o.dataset.category] = 1;
      if (src) n.onload = n.onerror = next;
      else n.text = o.text;
      o.parentNode.replaceChild(n, o);
      if (!src) next();
    };
    next();
    d.querySelectorAll('iframe[data-src][data-category]').forEach(function (f) {
      var c = f.dataset.category;
      if (ch[c]) {
        act[c] = 1;
        f.src = f.dataset.src;
        f.removeAttribute('data-src');
      }
    });
  }

  // DOM helpers: textContent only, never markup from the server.
  function el(t, c, x, p) {
    var e = d.createElement(t);
    if (c) e.className = c;
    if (x) e.textContent = x;
    if (p) p.appendChild(e);
    return e;
  }
  function btn(x, f, p, c) {
    var b = el('button', c || 'cst-btn', x, p);
    b.type = 'button';
    b.onclick = f;
    return b;
  }
  var attr = function (e, o) { for (var k in o) e.setAttribute(k, o[k]); return e; };
  function xbtn(p, f) {
    attr(btn('\u00d7', f, p, 'cst-x'), {'aria-label': cfg.texts.close});
  }
  function plink(p) {
    pls.push(el('a', 'cst-pl', cfg.texts.policy_link, el('p', 0, 0, p)));
    phref();
  }
  // The policy links: on another origin than the page, with the consent id in the fragment,
  // so the hosted policy page shows this visitor's choice.
  function phref() {
    var u = new URL(cfg.policy_url, me.src);
    if (ck && u.origin != location.origin) u.hash = 'consent=' + encodeURIComponent(ck.id);
    // The hosted page adopts the id only from the site's own origins: send at least that.
    pls.forEach(function (a) { a.href = u.href; a.referrerPolicy = 'origin'; });
  }
  function gnote(p) {
    gnotes.push(attr(el('p', 'cst-gpc', cfg.texts.gpc_honoured, p), {role: 'note'}));
  }

  function build() {
    var T = cfg.texts, th = me.getAttribute('data-theme');
    if (root) root.remove();
    pls = [];
    root = el('div', 'cst-root');
    if (th) root.setAttribute('data-theme', th);
    // Constructed stylesheets are not inline styles, so a strict CSP (style-src 'self') allows
    // them; older browsers get a <style> with the script tag's nonce.
    if (!sheet) {
      try {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        d.adoptedStyleSheets = d.adoptedStyleSheets.concat(sheet);
      } catch (e) {
        sheet = el('style', 0, CSS, d.head);
        if (me.nonce) sheet.nonce = me.nonce;
      }
    }
    gnotes = [];

    bn = attr(el('div', 'cst-banner', 0, root), {role: 'region', 'aria-labelledby': 'cst-t', tabindex: '-1'});
    bn.hidden = true;
    xbtn(bn, hide);
    bt = el('h2', 'cst-h', '', bn);
    bt.id = 'cst-t';
    bd = el('p', 0, '', bn);
    plink(bn);
    gnote(bn);
    bb = el('div', 'cst-btns', 0, bn);

    ov = el('div', 'cst-ov', 0, root);
    ov.hidden = true;
    ov.onclick = function (e) { if (e.target == ov) close(); };
    dg = attr(el('div', 'cst-dlg', 0, ov), {role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'cst-pt', tabindex: '-1'});
    xbtn(dg, close);
    el('h2', 'cst-h', T.preferences_title, dg).id = 'cst-pt';
    el('p', 0, T.preferences_description, dg);
    gnote(dg);
    inp = cats(dg, 'cst-c-');
    plink(dg);
    decide(dg, inp);
    rt = el('div', 'cst-rt', 0, dg);
    dg.onkeydown = trap;

    fab = attr(btn('', prefs, root, 'cst-fab'), {'aria-label': T.settings, title: T.settings});
    fab.hidden = true;
    // A cookie icon, built without innerHTML (works under Trusted Types).
    var ns = 'http://www.w3.org/2000/svg', svg = fab.appendChild(d.createElementNS(ns, 'svg'));
    attr(svg, {viewBox: '0 0 24 24', width: 24, height: 24, 'aria-hidden': 'true', fill: 'currentColor'});
    attr(svg.appendChild(d.createElementNS(ns, 'path')), {d: 'M12 2a10 10 0 1 0 10 10 4 4 0 0 1-5-5 4 4 0 0 1-5-5zm-3.5 7a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm3 5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm4.5 1a1 1 0 1 1 0 2 1 1 0 0 1 0-2z'});
    toast = attr(el('div', 'cst-toast', 0, root), {role: 'status'});
    toast.hidden = true;
    gnotes.forEach(function (g) { g.hidden = !gpcOn(); });
    cfg.categories.forEach(function (c) { if (!c.required && gpcOn() && sale(c)) lock[c.id] = 1; });
    d.body.appendChild(root);
  }

  // The categories, each with its toggle (never pre-ticked), description, services and
  // cookies, into p; returns the toggles by category. For the dialog and embedded policies.
  function cats(p, pre) {
    var T = cfg.texts, m = {};
    cfg.categories.forEach(function (c) {
      var box = el('div', 'cst-cat', 0, p), row = el('div', 'cst-row', 0, box), id = pre + c.id;
      var i = el('input', 0, 0, row), l = el('label', 0, c.title, row);
      i.type = 'checkbox';
      i.id = id;
      l.htmlFor = id;
      attr(i, {'aria-describedby': id + '-d'});
      if (c.required) {
        i.checked = i.disabled = true;
        el('span', 'cst-on', T.always_on, row);
      }
      m[c.id] = i;
      el('p', 0, c.description, box).id = id + '-d';
      var sv = c.services || [];
      if (sv.length) {
        var det = el('details', 0, 0, box);
        el('summary', 0, T.services + ' (' + sv.length + ')', det);
        var ul = el('ul', 0, 0, det);
        sv.forEach(function (s) {
          var li = el('li', 0, 0, ul), ks = s.cookies || [];
          var u = s.privacy_url, nm = el(/^https?:/.test(u) ? 'a' : 'strong', 0, s.name, li);
          if (nm.tagName == 'A') nm.href = u;
          li.append(' (' + s.provider + '): ' + s.purpose);
          if (ks.length) {
            var cu = el('ul', 0, 0, li);
            attr(cu, {'aria-label': T.cookies});
            ks.forEach(function (k) {
              var kl = el('li', 0, 0, cu);
              el('code', 0, k.name, kl);
              kl.append(' \u00b7 ' + k.duration + ' \u00b7 ' + k.purpose);
            });
          }
        });
      }
    });
    return m;
  }
  // The three equal choices, reading the toggles ins.
  function decide(p, ins) {
    var T = cfg.texts, b = el('div', 'cst-btns', 0, p);
    btn(T.reject_all, choose('reject_all', 0, ins), b);
    btn(T.accept_all, choose('accept_all', 0, ins), b);
    btn(T.save, choose('save', 1, ins), b);
  }

  // Embedded policies: <div data-consentry-policy></div> on the site's own page gets the
  // preferences and "Your data", in the banner's language, kept in step with every choice.
  function embed() {
    emb = [].map.call(d.querySelectorAll('[data-consentry-policy]'), function (host) {
      var T = cfg.texts, box = el('section', 'cst-root cst-emb');
      attr(box, {'aria-labelledby': 'cst-e-t'});
      if (me.getAttribute('data-theme')) box.setAttribute('data-theme', me.getAttribute('data-theme'));
      host.textContent = '';
      host.appendChild(box);
      el('h2', 'cst-h', T.preferences_title, box).id = 'cst-e-t';
      el('p', 0, T.preferences_description, box);
      gnote(box);
      gnotes[gnotes.length - 1].hidden = !gpcOn();
      var e = {ins: cats(box, 'cst-e-')};
      decide(box, e.ins);
      e.rt = el('div', 'cst-rt', 0, box);
      rights(0, e.rt);
      plink(box);
      return e;
    });
  }

  // Reflect the current choices in the toggles (never pre-ticked before a choice).
  function sync() {
    if (!inp) return;
    [inp].concat(emb.map(function (e) { return e.ins; })).forEach(function (set) {
      cfg.categories.forEach(function (c) {
        var i = set[c.id];
        if (!c.required) {
          i.checked = !!ch[c.id];
          i.disabled = !!lock[c.id];
        }
      });
    });
    emb.forEach(function (e) { rights(0, e.rt); });
  }

  var visible = function (e) { return e && e.isConnected && e.getClientRects().length; };
  var focusables = function () {
    return [].filter.call(dg.querySelectorAll('button,a[href],input:not(:disabled),summary'), visible);
  };
  function trap(e) {
    if (e.key != 'Tab') return;
    var f = focusables(), a = f[0], z = f[f.length - 1], c = d.activeElement;
    if (e.shiftKey ? c == a || c == dg : c == z) {
      e.preventDefault();
      (e.shiftKey ? z : a).focus();
    }
  }

  // The first layer: consent (opt-in) or a notice (opt-out and notice regimes).
  function show() {
    if (!cfg) return;
    var T = cfg.texts, n = cfg.regime != 'opt_in';
    bt.textContent = n ? T.opt_out_title : T.title;
    bd.textContent = n ? T.opt_out_description : T.description;
    bb.textContent = '';
    if (n) {
      btn(T.acknowledge, hide, bb);
      btn(T.do_not_sell, function () {
        done(function () { return send('save', opt(function (c) { return !sale(c) && !!ch[c.id]; })); });
      }, bb);
      btn(T.customise, prefs, bb);
    } else {
      // The three equal choices, in the order of the banner variant shown.
      (cfg.buttons || ['reject_all', 'accept_all', 'customise']).forEach(function (k) {
        btn(T[k], k == 'customise' ? prefs : choose(k), bb);
      });
    }
    bn.className = 'cst-banner cst-' + (cfg.layout || 'box');
    bn.hidden = false;
    fab.hidden = true;
    var a = d.activeElement;
    if (!a || a == d.body) bn.focus({preventScroll: true});
  }
  // Hide the first layer without recording anything.
  function hide() {
    var had = bn.contains(d.activeElement);
    bn.hidden = true;
    fab.hidden = false;
    if (had) fab.focus();
  }
  function prefs() {
    if (!cfg) return;
    if (ov.hidden) op = d.activeElement;
    sync();
    rights();
    ov.hidden = false;
    var f = focusables(), i = f.filter(function (e) { return e.tagName == 'INPUT'; });
    (i[0] || f[0] || dg).focus();
  }
  function close() {
    ov.hidden = true;
    (visible(op) ? op : bn.hidden ? fab : bn).focus();
  }
  function choose(a, save, ins) {
    return function () {
      done(function () {
        return send(a, opt(function (c) { return save ? ins[c.id].checked : a == 'accept_all'; }));
      });
    };
  }
  // Run one decision at a time (a double click records once), then close the layers.
  function done(f) {
    if (busy) return;
    busy = 1;
    f().then(function () {
      var wasOpen = !ov.hidden;
      bn.hidden = ov.hidden = true;
      fab.hidden = false;
      if (wasOpen || root.contains(d.activeElement)) (visible(op) && !root.contains(op) ? op : fab).focus();
      note(cfg.texts.saved);
    }).catch(function (e) { console.warn(e); }).then(function () { busy = 0; });
  }
  function note(x) {
    toast.textContent = x;
    toast.hidden = false;
    clearTimeout(toast.t);
    toast.t = setTimeout(function () { toast.hidden = true; }, 4e3);
  }

  // "Your data" in the preferences (only with a consent id): download what the server holds,
  // or erase it after one confirm step (c). Cancel takes the place of the erase button, so a
  // double click can not confirm.
  function rights(c, box) {
    box = box || rt;
    var T = cfg.texts, f = function (x, g, k) { return btn(x, g, box, 'cst-lk' + (k || '')); };
    box.hidden = !ck;
    box.textContent = '';
    el('h3', 0, T.your_data || 'Your data', box);
    f(T.download_data || 'Download my data', xport);
    if (!c) return f(T.erase_data || 'Erase my data', function () { rights(1, box); });
    f(T.cancel || 'Cancel', function () { rights(0, box).focus(); }).focus();
    f(T.confirm_erase || 'Confirm erase', erase, ' cst-dz');
  }
  var cu = function () { return 'consents/' + encodeURIComponent(ck.id); };
  // Save the export as a file through a detached link: no navigation, and no tracked click.
  function xport() {
    var n = 'consentry-' + ck.id + '.json';
    fetch(api + cu() + '/export', {credentials: 'omit'}).then(function (r) {
      if (r.status != 200) throw new Error('consentry: export ' + r.status);
      return r.blob();
    }).then(function (b) {
      var a = el('a'), u = a.href = URL.createObjectURL(b);
      a.download = n;
      a.click();
      setTimeout(function () { URL.revokeObjectURL(u); }, 6e4);
    }).catch(function (e) { console.warn(e); });
  }
  // The server erases the id (404: it holds nothing); then this browser forgets it too, as for
  // a new visitor. If anything of an optional category ran, the page reloads, as on withdrawal.
  function erase() {
    if (busy) return;
    busy = 1;
    req(cu(), 0, 'DELETE').then(function (x) {
      if (x.s != 200 && x.s != 404) throw new Error('consentry: erase ' + x.s);
      var reload = cfg.categories.some(function (c) { return !c.required && act[c.id]; });
      ck = rec = null;
      phref();
      ch = {};
      q = [];
      pv = 0;
      delCk(CK);
      purge();
      gcm('update', ch);
      fire();
      if (reload) return location.reload();
      sync();
      ov.hidden = true;
      show();
      bn.focus();
      note(cfg.texts.erased || 'Your data has been erased.');
    }).catch(function (e) { console.warn(e); }).then(function () { busy = 0; });
  }

  // Fetch the config and (for a returning visitor) the record; the server is the truth.
  function load() {
    return Promise.all([
      req('banner?lang=' + lang + (gpc ? '&gpc=1' : '')).catch(function () {
        // A fetch refused by CORS is indistinguishable from a network failure: say both.
        throw new Error('Consentry: no banner from ' + api + '. After a CORS error: add ' + location.origin + ' to sites[' + site + '].origins in the server settings.');
      }),
      ck && req(cu()).catch(function () {})
    ]).then(function (x) {
      var b = x[0], r = x[1];
      if (b.s == 404) throw new Error('Consentry: the server has no site "' + site + '" (data-site must be a [[sites]] id).');
      if (b.s != 200) throw new Error('consentry: banner ' + b.s);
      cfg = b.j;
      build();
      embed();
      if (cfg.detect) setTimeout(scan, 2e3);
      if (r && r.s == 404) {
        ck = null;
        delCk(CK);
        phref();
      }
      r = r && r.s == 200 && r.j;
      // A consent under an earlier version still counts unless the change since touched a
      // category it granted: then the banner asks again.
      var m = r && (cfg.earlier_versions || {})[r.policy_version];
      if (r && (r.policy_version == cfg.policy_version || m && !m.some(function (c) { return r.choices[c]; })) && Date.parse(r.expires_at) > Date.now()) {
        commit(r);
        fab.hidden = false;
        if (m) note(cfg.texts.policy_updated);
        return;
      }
      rec = null;
      ch = {};
      purge();
      // On the hosted policy page its own form is the first layer: no banner over it.
      if (hosted) return (fab.hidden = false);
      if (cfg.regime == 'opt_in') return show();
      // Opt-out and notice regimes: record the defaults once (keeping earlier refusals), then inform.
      send(r ? 'save' : 'default', r ? opt(function (c) { return c.default && r.choices[c.id] !== false; }) : {}).then(show, function (e) { console.warn(e); });
    }).catch(function (e) { console.warn(e); });
  }

  d.addEventListener('keydown', function (e) {
    if (e.key != 'Escape' || !cfg) return;
    var a = d.activeElement;
    if (!ov.hidden) {
      e.preventDefault();
      close();
    } else if (!bn.hidden && (!a || a == d.body || root.contains(a))) {
      hide();
    }
  });
  d.addEventListener('focusin', function (e) {
    if (ov && !ov.hidden && !dg.contains(e.target)) (focusables()[0] || dg).focus();
  });
  d.addEventListener('click', function (e) {
    var t = e.target.closest && e.target.closest('[data-consentry-open]');
    if (t) {
      e.preventDefault();
      prefs();
    }
  });

  // Cookie and tracker detection (cfg.detect): at most once a day per page, the names of the
  // cookies the page can read (never their values: those seen when this script started, before
  // it removed any, and two seconds after the banner loaded) and the hosts of its third-party
  // scripts and frames, with the path and the categories granted then; no consent id. The
  // day and hashes of the paths already reported are kept in localStorage (consentry_scan).
  var seenCk = {};
  function cookieNames() {
    // A cookie set without a name ("abc" rather than "n=abc") has only a value: not sent.
    d.cookie.split(';').forEach(function (c) {
      c = c.indexOf('=') > 0 && c.split('=')[0].trim();
      if (c) seenCk[c] = 1;
    });
  }
  cookieNames();
  function scan() {
    var k = 'consentry_scan', day = new Date().toISOString().slice(0, 10), p = location.pathname, s, h = 0, i, hosts = {}, own = new URL(api).hostname;
    try { s = JSON.parse(localStorage.getItem(k)); } catch (e) {}
    if (!s || s.d != day) s = {d: day, p: []};
    for (i = 0; i < p.length; i++) h = h * 31 + p.charCodeAt(i) | 0;
    if (s.p.indexOf(h) >= 0 || s.p.length > 49) return;
    s.p.push(h);
    try { localStorage.setItem(k, JSON.stringify(s)); } catch (e) {}
    cookieNames();
    // A tag still gated (type="text/plain", see activate) has loaded nothing: not counted.
    d.querySelectorAll('script[src]:not([type="text/plain"]),iframe[src]').forEach(function (e) {
      var x = /^https?:/.test(e.src) && new URL(e.src).hostname;
      if (x && x != location.hostname && x != own) hosts[x] = 1;
    });
    fetch(api + 'detections', {method: 'POST', keepalive: true, credentials: 'omit', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({
      path: p,
      cookies: Object.keys(seenCk).slice(0, 60),
      hosts: Object.keys(hosts).slice(0, 60),
      granted: Object.keys(ch).filter(function (c) { return ch[c]; })
    })}).catch(function () {});
  }

  // Tracker: pageviews, custom events, outbound links and downloads. An event is queued and
  // sent only while the current valid record grants its category (analytics unless the
  // caller says marketing); the server decides again from the stored consent.
  var trk = me.getAttribute('data-track') != 'off', q = [], qt, pv, lp = location.pathname, lu = location.href;
  var ok = function (c) { return trk && rec && ch[c] && Date.parse(rec.expires_at) > Date.now(); };
  function ev(n, p, c, r) {
    c = c || 'analytics';
    if (!ok(c)) return false;
    var e = {consent_id: rec.consent_id, name: n, url: location.href, category: c};
    if (r) e.referrer = r;
    if (p) e.props = p;
    q.push(e);
    if (q.length > 9) flush();
    else qt = qt || setTimeout(flush, 1e3);
    return true;
  }
  // Send the queue (at most 50 events and ~30 KB a request). On page hide (b), a same-origin
  // beacon; otherwise, or if the beacon is refused, a keepalive fetch without credentials (a
  // beacon carries credentials, which the server's CORS answer does not allow cross-origin).
  // Nothing leaves while a decision is being recorded.
  function flush(b) {
    clearTimeout(qt);
    qt = 0;
    if (busy) return qt = setTimeout(flush, 1e3);
    q = q.filter(function (e) { return ok(e.category); });
    var u = api + 'events', n, j;
    while ((n = Math.min(q.length, 50))) {
      while ((j = JSON.stringify(q.slice(0, n))).length > 3e4 && n > 1) n >>= 1;
      q.splice(0, n);
      if (!(b && new URL(u).origin == location.origin && N.sendBeacon && N.sendBeacon(u, new Blob([j], {type: 'application/json'})))) {
        fetch(u, {method: 'POST', keepalive: true, credentials: 'omit', headers: {'Content-Type': 'application/json'}, body: j}).catch(function () {});
      }
    }
  }
  // After every commit: drop what the choice no longer allows; the page's first pageview.
  function tk() {
    q = q.filter(function (e) { return ok(e.category); });
    if (!pv && ev('pageview', 0, 0, d.referrer)) pv = 1;
  }
  // Single-page apps: a pageview when the path changes, with the previous URL as referrer.
  function nav() {
    var r = lu;
    lu = location.href;
    if (location.pathname == lp) return;
    lp = location.pathname;
    ev('pageview', 0, 0, r);
  }
  if (trk) {
    ['pushState', 'replaceState'].forEach(function (k) {
      var f = history[k];
      history[k] = function () {
        var r = f.apply(this, arguments);
        nav();
        return r;
      };
    });
    w.addEventListener('popstate', nav);
    w.addEventListener('pagehide', function () { flush(1); });
    d.addEventListener('visibilitychange', function () { if (d.visibilityState == 'hidden') flush(1); });
    // Opt-in per site: data-track-outbound and data-track-downloads on the script tag.
    var ob = me.hasAttribute('data-track-outbound'), dn = me.hasAttribute('data-track-downloads');
    ['click', 'auxclick'].forEach(function (t) {
      d.addEventListener(t, function (e) {
        var a = e.button < 2 && e.target.closest && e.target.closest('a[href]'), u = a && a.href;
        if (typeof u != 'string' || !/^https?:/.test(u)) return;
        var x = dn && /\.(pdf|zip|dmg|exe|csv|xlsx|docx|pptx|mp4|mp3)$/i.test(a.pathname) ? 'download' : ob && a.host != location.host && 'outbound';
        if (x) ev(x, {url: u.slice(0, 200)});
      }, true);
    });
  }

  w.consentry = {
    acceptedCategory: function (id) {
      return !!ch[id] || !!(cfg && cfg.categories.some(function (c) { return c.id == id && c.required; }));
    },
    show: show,
    showPreferences: prefs,
    onChange: function (f) {
      lsn.push(f);
      if (rec) f({consent_id: rec.consent_id, choices: Object.assign({}, ch)});
    },
    getConsent: function () { return rec && JSON.parse(JSON.stringify(rec)); },
    consentId: function () { return rec ? rec.consent_id : null; },
    track: function (n, p, o) { return ev(n, p, o && o.category); }
  };
  load();
})();
