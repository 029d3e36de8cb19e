// A page whose content a worker is still computing carries <... data-reload-after="SECONDS">: it loads itself again
// after that many seconds, until the server renders the finished content without the attribute. (A script rather
// than <meta http-equiv="refresh">, which assistive technology cannot pause.)
(() => {
  const marker = document.querySelector("[data-reload-after]");
  if (!marker) return;
  const seconds = Math.max(2, Number(marker.getAttribute("data-reload-after")) || 10);
  setTimeout(() => window.location.reload(), seconds * 1000);
})();
