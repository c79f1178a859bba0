// Demo analytics tag: Consentry activates it only once the "analytics" category is granted.
(function () {
  'use strict';
  window.demoAnalyticsRan = true;
  document.cookie = '_demo_analytics=1; path=/; max-age=34128000; SameSite=Lax';
  function mark() {
    var el = document.getElementById('demo-status-analytics');
    if (el) {
      el.textContent = 'on';
      el.classList.add('is-on');
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mark);
  else mark();
})();
