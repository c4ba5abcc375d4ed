/*! CyberWidget loader: options, API, queue and CSP in the README */(function(){"use strict";const C=document.currentScript,n=C.dataset,h=new URL(C.src).origin,r="cyberwidget:",x=n.mode||"launcher",v=n.lang||document.documentElement.lang||navigator.language||"fr",k={fr:["Aide aux victimes","Fermer"],en:["Help for victims","Close"],ar:["مساعدة الضحايا","إغلاق"],nl:["Hulp voor slachtoffers","Sluiten"]}[v.slice(0,2).toLowerCase()]||["Help for victims","Close"],l=n.label||k[0],S={left:"l",right:"r"}[n.position]||"e",M=n.height||"100vh";let d,i,L,o,b,p,f;function a(e,s,c){const t=Object.assign(document.createElement(e),s);return c&&c.append(t),t}function E(){b&&p&&(p=0,o.focus(),o.contentWindow.postMessage({type:r+"focus"},h))}function H(){o||(f.style.setProperty("--cw-h",M),o=a("iframe",{title:l,allow:"clipboard-write",src:h+"/w/"+encodeURIComponent(n.embed)+"?origin="+encodeURIComponent(location.origin)+"&lang="+encodeURIComponent(v)}),d.replaceChildren(o))}function m(){i&&!i.open&&i.showModal(),H(),p=1,E()}function u(){p=0,i&&i.close()}function U(){o=b=0,d.replaceChildren(L||""),u()}function w(e){e=R[typeof e=="string"?e:e&&e[0]],e&&e()}const R={open:m,close:u,push:w};function W(){const e=n.target&&document.querySelector(n.target),s=(f=a("cyber-widget")).attachShadow({mode:"open"}),c=new CSSStyleSheet;e?e.replaceChildren(f):document.body.append(f),c.replaceSync(`
:host{all:initial!important;display:${x=="launcher"?"contents":"block"}!important;
min-height:var(--cw-h)!important}
*{box-sizing:border-box;margin:0;padding:0;font:16px/1.4 system-ui,sans-serif}
button{border:2px solid #0000;border-radius:2em;padding:9.2px 17.2px;cursor:pointer;
min-height:44px;background:#000091;color:#fff;font-weight:700}
button:focus-visible{outline:3px solid #000091;outline-offset:3px;box-shadow:0 0 0 3px #fff}
.b{position:fixed;bottom:16px;z-index:2147483647}
dialog{position:fixed;inset:auto;bottom:80px;scroll-padding-top:56px;
border:2px solid #0000;width:min(416px,100vw - 32px);max-height:calc(100dvh - 96px);
overflow:auto;border-radius:16px;background:#fff;box-shadow:0 8px 32px #0005}
::backdrop{background:#0003}
.e{inset-inline-end:16px}.l{left:16px}.r{right:16px}
header{position:sticky;top:0;display:flex;justify-content:end;padding:6px;background:#fff}
.x{background:none;color:#000091;width:44px;padding:0;font-size:24px}
iframe{display:block;width:100%;height:320px;border:0}`),s.adoptedStyleSheets=[c],x=="launcher"?(a("button",{className:"b "+S,textContent:l,onclick:m,ariaHasPopup:"dialog"},s),i=a("dialog",{className:S,ariaLabel:l},s),a("button",{className:"x",textContent:"×",ariaLabel:k[1],onclick:u},a("header",{},i)),d=a("div",{},i)):(d=s,L=a("button",{textContent:l,onclick:m},s),x=="page"&&H()),window.addEventListener("message",function(y){const z=y.data||{},g=z.type;y.origin!==h||!o||y.source!==o.contentWindow||(g==r+"resize"?o.style.height=Math.min(z.height|0,1e5)+"px":g==r+"leave"?U():g==r+"close"?u():g==r+"ready"&&(b=1,E()))});let t=window.CyberWidget;t=t&&t.q||t,window.CyberWidget=R,t&&t.forEach&&(t.forEach(w),t.push=w)}document.readyState=="loading"?document.addEventListener("DOMContentLoaded",W):W()})();
