package io.reelay.sim;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

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
   * A lost answer (fault {@code lost-answer}) is the one exception to "refused or streamed": the turn
   * runs, but the client gets a 502 or a stream that drops before it says anything.
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
    // charged: credits frozen and the turn runs (a free turn, text-cost 0, charges nothing)
    if (cost > 0 && !session.firstTimeCharged(text)) stats.chargedTwice.increment();

    Turn turn = agent.turn(plan, text, session, account, stats);
    FaultDice dice = backend.dice;
    boolean lost = dice.roll(dice.current().lostAnswer());
    TurnPlayer player = new TurnPlayer(system, turn,
        new SseWire(backend.settings.sseWireForm(), "e-" + backend.ids.uuid(), backend.ids,
            backend.settings.heartbeatForms(), body.path("streaming").asBoolean(false) || plan.partial()),
        backend.settings.scaled(backend.settings.timing().heartbeatInterval()), lost ? TurnPlayer.NO_CUT : cutAfter(plan, turn));
    if (!lost) {
      player.start();
      return stream(player, player.source());
    }
    stats.fault("lost-answer");
    // half of the lost answers never start a stream (a gateway's 502), half start it and drop before any event
    boolean badGateway = dice.pick(2) == 0;
    player.startUnheard();
    return badGateway ? badGateway() : stream(player, player.lostStream());
  }

  /** The beat after which fault {@code stream-cut} (or {@code [sim:cut]}) drops the stream, or {@link TurnPlayer#NO_CUT}. */
  private int cutAfter(Agent.Plan plan, Turn turn) {
    if (!plan.cut() && !backend.dice.roll(backend.dice.current().streamCut())) return TurnPlayer.NO_CUT;
    int last = turn.beats().size() - 1;
    backend.stats().fault("stream-cut");
    return Math.min(last, 1 + backend.dice.pick(Math.max(1, last)));
  }

  /** The SSE response carrying {@code events}, counted in streamsOpened/activeStreams while it is open. */
  private HttpResponse stream(TurnPlayer player, Source<ByteString, ?> events) {
    SimStats stats = backend.stats();
    stats.streamOpened();
    AtomicBoolean closed = new AtomicBoolean();
    var watched = events.watchTermination((mat, done) -> {
      done.whenComplete((d, e) -> {
        player.clientGone();
        if (closed.compareAndSet(false, true)) stats.streamClosed();
      });
      return mat;
    });
    return HttpResponse.create()
        .withEntity(HttpEntities.createChunked(MediaTypes.TEXT_EVENT_STREAM.toContentType(), watched))
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
