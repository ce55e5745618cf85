// Loaded before the player: keeps every EME session the player opens, so that the test can read
// the key statuses the CDM reports and the init-data type each license request came from.
window.drmkitTest = { sessions: [], initDataTypes: [], errors: [] };
(() => {
  const createSession = MediaKeys.prototype.createSession;
  MediaKeys.prototype.createSession = function (...args) {
    const session = createSession.apply(this, args);
    window.drmkitTest.sessions.push(session);
    const generateRequest = session.generateRequest;
    session.generateRequest = function (initDataType, initData) {
      window.drmkitTest.initDataTypes.push(initDataType);
      return generateRequest.call(this, initDataType, initData);
    };
    return session;
  };
})();
window.drmkitTest.keyStatuses = () => {
  const out = {};
  for (const session of window.drmkitTest.sessions) {
    session.keyStatuses.forEach((status, kid) => {
      const hex = [...new Uint8Array(kid)].map((b) => b.toString(16).padStart(2, "0")).join("");
      out[hex] = status;
    });
  }
  return out;
};
window.drmkitTest.state = () => {
  const video = document.querySelector("video");
  return {
    currentTime: video.currentTime,
    // Frames the decoder produced: the clock of a video-only stream can run without any.
    decodedFrames: video.getVideoPlaybackQuality().totalVideoFrames,
    keyStatuses: window.drmkitTest.keyStatuses(),
    initDataTypes: window.drmkitTest.initDataTypes,
    errors: window.drmkitTest.errors,
  };
};
