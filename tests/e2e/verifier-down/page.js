// The page's error-callback: it records the widget's error codes.
window.ocultoErrors = [];
window.onOcultoError = (code) => window.ocultoErrors.push(code);
