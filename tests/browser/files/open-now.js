"use strict";
// Opens the widget at once, long before the async loader has run.
window.CyberWidget.open();
