"use strict";
// The shortest stub: an array, to which the host pushes commands.
window.CyberWidget = window.CyberWidget || [];
window.CyberWidget.push("open");
