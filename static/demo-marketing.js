// Demo marketing tag: Consentry activates it only once the "marketing" category is granted.
(function () {
  'use strict';
  window.demoMarketingRan = true;
  document.cookie = '_demo_ads=1; path=/; max-age=7776000; SameSite=Lax';
  function mark() {
    var el = document.getElementById('demo-status-marketing');
    if (el) {
      el.textContent = 'on';
      el.classList.add('is-on');
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mark);
  else mark();
})();
