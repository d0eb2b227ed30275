package io.reelay.sim;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;

/** Accounts, sessions, credits and state: E1, E2, E3, E6, E7 (E5 is {@link UploadRoutes}). */
final class SessionRoutes extends SimRoutes {

  private static final int MAX_CLIENT_ID = 64;

  SessionRoutes(NemoBackend backend, ActorSystem<?> system) {
    super(backend, system);
  }

  Route route() {
    return pathPrefix("api", () -> concat(
        path(segment("auth").slash("anonymous-token"), () -> post(() -> api("anonymous-token", call -> done(anonymousToken(call))))),
        path(segment("auth").slash("claim-token"), () -> post(() -> api("claim-token", call -> done(claimToken(call))))),
        path(segment("tasks").slash("me").slash("with-session").slash("nemo_agent"),
            () -> post(() -> api("session", call -> done(createSession(call))))),
        path(segment("credits").slash("balance").slash("simple"), () -> get(() -> api("credits", call -> done(credits(call))))),
        path(segment("state").slash("nemo_agent").slash("me").slash(segment()).slash("latest"),
            sid -> get(() -> api("state", call -> done(state(call, sid)))))));
  }

  /** E1: no Bearer; the client id is required (HTTP 400 without it, as documented). */
  private HttpResponse anonymousToken(Call call) {
    String clientId = call.header("X-Client-Id").map(String::strip).orElse("");
    if (clientId.isEmpty()) {
      return envelopeError(StatusCodes.BAD_REQUEST, 400, "X-Client-Id header is required (a UUID or stable id of at most 64 characters)");
    }
    if (clientId.length() > MAX_CLIENT_ID) {
      return envelopeError(StatusCodes.BAD_REQUEST, 400, "X-Client-Id must be at most " + MAX_CLIENT_ID + " characters");
    }
    Account a = backend.anonymousToken(clientId, call.address);
    return ok(Agent.map("token", a.token, "user_id", a.userId, "expires_at", a.expiresAt.toString(),
        "credits", a.balance().available()));
  }

  /** E3: a browser-only claim token for the session. */
  private HttpResponse claimToken(Call call) {
    Account account = call.account();
    JsonNode body = call.json();
    call.session(account, text(body, "session_id", "sessionId"));
    return ok(Agent.map("claim_token", backend.claimToken(), "expires_in", 604800));
  }

  /** E2: a task and its agent session; language is optional. */
  private HttpResponse createSession(Call call) {
    Account account = call.account();
    JsonNode body = call.json();
    String taskName = text(body, "task_name", "taskName");
    String language = text(body, "language", "language");
    BackendSession s = backend.createSession(account, taskName == null || taskName.isBlank() ? "project" : taskName,
        language == null ? "en" : language);
    return ok(Agent.map("task_id", s.taskId, "session_id", s.sessionId));
  }

  /** E6: total = available + frozen. */
  private HttpResponse credits(Call call) {
    Account.Balance b = call.account().balance();
    return ok(Agent.map("available", b.available(), "frozen", b.frozen(), "total", b.total()));
  }

  /** E7: the session state with the abbreviated draft. */
  private HttpResponse state(Call call, String sessionId) {
    Account account = call.account();
    BackendSession s = call.session(account, sessionId);
    Draft draft = s.draft();
    List<Map<String, Object>> generated = backend.media(s).stream()
        .map(m -> Agent.map("id", m.id(), "type", "video", "url", backend.publicBaseUrl() + "/files/media/" + m.id() + ".mp4",
            "duration", m.durationMs() / 1000.0, "prompt", m.prompt()))
        .toList();
    int w = backend.settings.videoWidth();
    int h = backend.settings.videoHeight();
    Map<String, Object> state = Agent.map(
        "video_infos", s.videoInfos(),
        // an untouched session has an empty draft object, as the vendor's progress checks expect
        "draft", draft.isEmpty() ? Map.of() : draft,
        "canvas_config", Agent.map("width", w, "height", h, "aspect_ratio", w * 9 == h * 16 ? "16:9" : w + ":" + h),
        "video_analyses", Map.of(),
        "generated_media", generated);
    return ok(Agent.map("session_id", s.sessionId, "task_id", s.taskId, "task_name", s.taskName, "state", state));
  }

  /** A string field under its snake_case or camelCase name (the backend is lenient like Python ADK). */
  static String text(JsonNode body, String snake, String camel) {
    JsonNode n = body.hasNonNull(snake) ? body.get(snake) : body.get(camel);
    return n == null || n.isNull() ? null : n.asText();
  }
}
