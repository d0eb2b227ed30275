package io.reelay.sim;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Export: E8 submit, E9 poll, E10 download, E11 cancel, and the public file URLs the poll hands out
 * ({@code /files/render/{id}.mp4}, and {@code /files/media/{id}.mp4} for generated clips).
 */
final class RenderRoutes extends SimRoutes {

  private static final ContentType MP4 = MediaTypes.VIDEO_MP4.toContentType();

  RenderRoutes(NemoBackend backend, ActorSystem<?> system) {
    super(backend, system);
  }

  Route route() {
    return concat(
        pathPrefix(segment("api").slash("render").slash("proxy"), () -> concat(
            path("lambda", () -> post(() -> api("render-submit", call -> done(submit(call))))),
            path(segment("lambda").slash(segment()), id -> get(() -> api("render-poll", call -> done(poll(call, id))))),
            path(segment("lambda").slash(segment()).slash("cancel"), id -> post(() -> api("render-cancel", call -> done(cancel(call, id))))),
            path(segment().slash("download"), id -> get(() -> api("render-download", call -> done(download(call, id))))))),
        pathPrefix("files", () -> get(() -> concat(
            path(segment("render").slash(segment()), file -> renderFile(file)),
            path(segment("media").slash(segment()), file -> mediaFile(file))))));
  }

  /** E8. Attribution headers are checked here only: that is where the vendor's 402 bites. */
  private HttpResponse submit(Call call) {
    Account account = call.account();
    if (!call.hasAttribution()) {
      throw SimError.exportRefused("export refused: missing X-Skill-Source / X-Skill-Version / X-Skill-Platform headers");
    }
    JsonNode body = call.json();
    String id = SessionRoutes.text(body, "id", "id");
    if (id == null || id.isBlank() || !id.matches("[A-Za-z0-9_.-]{1,128}")) {
      return failure("id is required: 1-128 of A-Z a-z 0-9 _ . -");
    }
    String sessionId = SessionRoutes.text(body, "sessionId", "session_id");
    if (sessionId != null) call.session(account, sessionId);
    JsonNode draft = body.path("draft");
    long durationMs = videoDurationMs(draft);
    if (durationMs <= 0) return failure("draft is empty: it needs a track (t) with at least one segment (sg)");
    NemoBackend.Submitted s;
    try {
      s = backend.submitRender(account, id, sessionId, durationMs, title(draft));
    } catch (SimError e) {
      if (e.code != 409) throw e;
      // the render endpoints' own failure shape: the vendor's client then retries once with a new id
      return json(backend.settings.errorsAsHttpStatus() ? StatusCodes.CONFLICT : StatusCodes.OK,
          Agent.map("success", false, "error", e.getMessage()));
    }
    RenderJob.View v = backend.view(s.job());
    return success(Agent.map("id", v.id(), "status", v.status().wire(), "progress", v.progress()));
  }

  /** E9 in the configured shape. */
  private HttpResponse poll(Call call, String id) {
    RenderJob job = backend.render(call.account(), id);
    RenderJob.View v = backend.view(job);
    job.polled(v, backend.nowMillis()); // for /_sim/renders: polls per job, when a poll first saw it done
    Optional<String> url = v.status() == RenderJob.Status.COMPLETED ? Optional.of(outputUrl(id)) : Optional.empty();
    if (backend.settings.renderPollShape() == SimSettings.RenderPollShape.TOP_LEVEL) {
      Map<String, Object> out = Agent.map("taskId", v.id(), "status", v.status().wire(), "progress", v.progress());
      url.ifPresent(u -> out.put("output", Agent.map("url", u, "duration", job.durationMs / 1000.0)));
      v.error().ifPresent(e -> out.put("error", e));
      return json(StatusCodes.OK, out);
    }
    Map<String, Object> data = Agent.map("id", v.id(), "status", v.status().wire(), "progress", v.progress());
    url.ifPresent(u -> data.put("outputUrl", u));
    data.put("createdAt", v.createdAt());
    v.completedAt().ifPresent(t -> data.put("completedAt", t));
    v.error().ifPresent(e -> data.put("error", e));
    return success(data);
  }

  /** E11: a running job ends as failed/"cancelled"; an ended job is left as it is. */
  private HttpResponse cancel(Call call, String id) {
    RenderJob job = backend.render(call.account(), id);
    boolean cancelled = job.cancel(backend.nowMillis());
    RenderJob.View v = backend.view(job);
    return success(Agent.map("id", id, "cancelled", cancelled, "status", v.status().wire()));
  }

  /** E10: the bytes, behind the Bearer token, once the job completed (no ranges: that is what outputUrl is for). */
  private HttpResponse download(Call call, String id) {
    RenderJob job = backend.render(call.account(), id);
    Path file = job.file.getNow(null);
    if (backend.view(job).status() != RenderJob.Status.COMPLETED || file == null) {
      throw SimError.notFound("render " + id + " is not completed");
    }
    return HttpResponse.create().withEntity(HttpEntities.create(MP4, file));
  }

  private Route renderFile(String fileName) {
    backend.stats().call("files");
    String id = fileName.endsWith(".mp4") ? fileName.substring(0, fileName.length() - 4) : fileName;
    Optional<RenderJob> job = backend.renderById(id).filter(j -> backend.view(j).status() == RenderJob.Status.COMPLETED);
    return job.map(j -> fileOf(j.file.getNow(null))).orElseGet(() -> complete(StatusCodes.NOT_FOUND, "no such file"));
  }

  /** Generated clips: encoded on first request (they are cached like renders). */
  private Route mediaFile(String fileName) {
    backend.stats().call("files");
    String id = fileName.endsWith(".mp4") ? fileName.substring(0, fileName.length() - 4) : fileName;
    return backend.media(id)
        .map(m -> onSuccess(backend.renderer.render(m.durationMs(), m.title()), this::fileOf))
        .orElseGet(() -> complete(StatusCodes.NOT_FOUND, "no such file"));
  }

  /** pekko-http's file route: Content-Length, conditional GETs and byte ranges (the MP4 index is at the end). */
  private Route fileOf(Path file) {
    return file == null ? complete(StatusCodes.NOT_FOUND, "no such file") : getFromFile(file.toFile(), MP4);
  }

  private String outputUrl(String id) {
    return backend.publicBaseUrl() + "/files/render/" + id + ".mp4";
  }

  private HttpResponse failure(String error) {
    return json(backend.settings.errorsAsHttpStatus() ? StatusCodes.BAD_REQUEST : StatusCodes.OK,
        Agent.map("success", false, "error", error));
  }

  /** Sum of the video track's segment durations (ms), read leniently from a client-supplied draft. */
  static long videoDurationMs(JsonNode draft) {
    long videoMs = 0;
    long anyMs = 0;
    for (JsonNode track : draft.path("t")) {
      for (JsonNode seg : track.path("sg")) {
        long d = seg.path("d").asLong(0);
        anyMs = Math.max(anyMs, seg.path("start").asLong(0) + d);
        if (track.path("tt").asInt(-1) == Draft.VIDEO) videoMs += d;
      }
    }
    // a draft without a video track (only text or audio) still renders, as long as anything is in it
    return videoMs > 0 ? videoMs : anyMs;
  }

  /** The title shown in the frames: the text track's title, else the video's. */
  static String title(JsonNode draft) {
    String fromVideo = null;
    for (JsonNode track : draft.path("t")) {
      for (JsonNode seg : track.path("sg")) {
        String t = seg.path("m").path("title").asText("");
        if (t.isBlank()) continue;
        if (track.path("tt").asInt(-1) == Draft.TEXT) return t;
        if (fromVideo == null) fromVideo = t;
      }
    }
    return fromVideo == null ? "Reelay" : fromVideo;
  }
}
