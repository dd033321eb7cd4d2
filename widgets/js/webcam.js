// widgets/handtrack.py's WebcamSnapshot front end: one webcam photo, sent to Python as a
// JPEG data URL in `data_url`. Every wait has a timeout and every failure is said in
// words in `status`, so the button never hangs. Styles: webcam.css.
const timeout = (ms, why) => new Promise((_, reject) => setTimeout(() => reject(new Error(why)), ms));

export default {
  render({ model, el }) {
    const button = document.createElement("button");
    button.textContent = "Take a webcam photo";
    button.title = "Take one photo with your webcam (the browser asks for permission first)";
    const status = document.createElement("span");
    status.className = "browserml-webcam-status";
    let removed = false;
    const say = (text) => {
      status.textContent = text;
      if (!removed) { model.set("status", text); model.save_changes(); }
    };
    async function onClick() {
      const media = navigator.mediaDevices;
      if (!media || !media.getUserMedia) {
        say("No camera: this front end gives no camera access (it needs a browser page served over https " +
            "or localhost). Upload a photo instead.");
        return;
      }
      button.disabled = true;
      say("asking for the camera…");
      let stream = null, late = false;
      try {
        const asked = media.getUserMedia({ video: { facingMode: "user" }, audio: false });
        asked.then((s) => { if (late) s.getTracks().forEach((t) => t.stop()); }, () => {});
        stream = await Promise.race([asked, timeout(model.get("timeout_ms"),
          "no answer from the camera (is the permission prompt still open?)")]);
        const video = document.createElement("video");
        video.muted = true; video.playsInline = true; video.srcObject = stream;
        await Promise.race([video.play(), timeout(5000, "the camera sent no picture")]);
        await new Promise((r) => setTimeout(r, 400));  // let exposure settle
        const canvas = document.createElement("canvas");
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        if (!canvas.width || !canvas.height) throw new Error("the camera sent an empty frame");
        canvas.getContext("2d").drawImage(video, 0, 0);
        if (removed) return;  // the view is gone: the finally below still stops the camera
        model.set("data_url", canvas.toDataURL("image/jpeg", 0.9));
        model.set("shots", model.get("shots") + 1);
        say(`photo taken (${canvas.width}×${canvas.height})`);
      } catch (err) {
        late = true;
        const name = err && err.name;
        const why = name === "NotAllowedError" ? "camera permission denied"
          : name === "NotFoundError" ? "no camera found"
          : name === "NotReadableError" ? "the camera is in use by another program"
          : String((err && err.message) || err);
        say(`No photo: ${why}. Upload a photo instead.`);
      } finally {
        if (stream) stream.getTracks().forEach((t) => t.stop());
        button.disabled = false;
      }
    }
    button.addEventListener("click", onClick);
    el.append(button, status);
    return () => {
      removed = true;
      button.removeEventListener("click", onClick);
    };
  },
};
