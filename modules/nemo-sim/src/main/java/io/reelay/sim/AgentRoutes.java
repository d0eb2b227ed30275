package io.reelay.sim;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Route;

/** E4 {@code POST /run_sse}: one user message in, one agent turn out as a server-sent event stream. */
final class AgentRoutes extends SimRoutes {

  private final Agent agent;

  AgentRoutes(NemoBackend backend, ActorSystem<?> system) {
    super(backend, system);
    this.agent = new Agent(backend);
  }

  Route route() {
    return path("run_sse", () -> post(() -> api("run_sse", call -> done(runSse(call)))));
  }

  /**
   * Everything that can be refused (token, session, credits) is refused before the stream starts, as
   * an envelope; once the stream has started the turn's credits are frozen and the work always finishes.
   */
  private HttpResponse runSse(Call call) {
    Account account = call.account();
    JsonNode body = call.json();
    String sessionId = SessionRoutes.text(body, "session_id", "sessionId");
    if (sessionId == null || sessionId.isBlank()) throw SimError.badRequest("session_id is required");
    String text = messageText(body);
    BackendSession session = call.session(account, sessionId);
    if (text.isBlank()) throw SimError.badRequest("new_message.parts[].text is required");

    SimStats stats = backend.stats();
    stats.messages.increment();
    if (!session.firstTimeSaid(text)) stats.repeatedMessages.increment();

    Agent.Plan plan = agent.plan(text, session.draft());
    int cost = agent.cost(plan.kind());
    if (!account.freeze(cost)) throw SimError.notEnoughCredits(cost, account.balance().available());

    Turn turn = agent.turn(plan, text, session, account, stats);
    boolean cutIt = plan.cut() || backend.dice.roll(backend.dice.current().streamCut());
    int cut = cutIt ? 1 + backend.dice.pick(Math.max(1, turn.beats().size() - 1)) : -1;
    if (cut >= turn.beats().size()) cut = turn.beats().size() - 1;
    if (cut >= 0) stats.fault("stream-cut");
    boolean streaming = body.path("streaming").asBoolean(false) || plan.partial();
    TurnPlayer player = new TurnPlayer(system, turn,
        new SseWire(backend.settings.sseWireForm(), "e-" + backend.ids.uuid(), backend.ids,
            backend.settings.heartbeatForms(), streaming),
        backend.settings.scaled(backend.settings.timing().heartbeatInterval()), cut);
    stats.streamOpened();
    AtomicBoolean closed = new AtomicBoolean();
    var events = player.source().watchTermination((mat, done) -> {
      done.whenComplete((d, e) -> {
        player.clientGone();
        if (closed.compareAndSet(false, true)) stats.streamClosed();
      });
      return mat;
    });
    player.start();
    return HttpResponse.create()
        .withEntity(HttpEntities.createChunked(MediaTypes.TEXT_EVENT_STREAM.toContentType(), events))
        .addHeader(RawHeader.create("Cache-Control", "no-cache"));
  }

  /** {@code new_message.parts[].text} (or camelCase {@code newMessage}), the parts' texts joined. */
  private static String messageText(JsonNode body) {
    JsonNode msg = body.has("new_message") ? body.get("new_message") : body.path("newMessage");
    StringBuilder sb = new StringBuilder();
    for (JsonNode part : msg.path("parts")) {
      if (part.hasNonNull("text")) {
        if (sb.length() > 0) sb.append('\n');
        sb.append(part.get("text").asText());
      }
    }
    return sb.toString();
  }
}
