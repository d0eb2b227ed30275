package io.reelay.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The published JSON Schemas accept what {@link Json} writes of real records, refuse malformed
 * ones, and name exactly the Java enums' values.
 */
class SchemasTest {

  /** Resolves the schemas' {@code $id}s on the class path (offline), asserting formats such as date-time. */
  static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12, b -> b
      .schemaIdResolvers(r -> r.mapPrefix(Schemas.ID_BASE, "classpath:" + Schemas.RESOURCE_DIR))
      .schemaRegistryConfig(SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build()));

  static List<String> problems(String schema, JsonNode value) {
    return REGISTRY.getSchema(SchemaLocation.of(Schemas.id(schema))).validate(value).stream().map(Error::toString).toList();
  }

  static List<String> problems(String schema, Object record) {
    return problems(schema, Json.read(Json.bytes(record), JsonNode.class));
  }

  static final Instant AT = Instant.parse("2026-01-31T12:00:00.123456789Z");

  static Request request(Action action, Consumer<ObjectNode> change) {
    Request r = new Request(Request.VERSION, "r-" + action.wire(), "sess-1", "acme", action.usesStream() ? "a fox in the snow" : null,
        action, null, null, null, null, null, AT);
    ObjectNode n = Json.mapper().valueToTree(r);
    change.accept(n);
    return Json.read(Json.bytes(n), Request.class);
  }

  @Test
  void everySchemaIsAValidDraft202012SchemaWithAnIdAndADescription() {
    Schema meta = REGISTRY.getSchema(SchemaLocation.of("https://json-schema.org/draft/2020-12/schema"));
    for (String name : Schemas.NAMES) {
      JsonNode schema = Json.read(Schemas.text(name), JsonNode.class);
      assertThat(meta.validate(schema)).as(name).isEmpty();
      assertThat(schema.path("$schema").asText()).isEqualTo("https://json-schema.org/draft/2020-12/schema");
      assertThat(schema.path("$id").asText()).isEqualTo(Schemas.id(name));
      assertThat(schema.path("description").asText()).as(name).isNotBlank();
    }
    assertThatThrownBy(() -> Schemas.text("requests")).hasMessageContaining("request, event, session-snapshot, dead-letter");
  }

  @Test
  void requestsOfEveryActionValidate() {
    Map<Action, Consumer<ObjectNode>> complete = new LinkedHashMap<>();
    complete.put(Action.UPLOAD, n -> n.putObject("upload").put("url", "https://cdn.example.com/a.mp4")
        .put("fileName", "a.mp4").put("contentType", "video/mp4"));
    complete.put(Action.CANCEL, n -> n.put("cancels", "r-generate"));
    complete.put(Action.EXPORT, n -> n.putObject("output").put("format", "mp4").put("quality", "high"));
    for (Action a : Action.values()) {
      Request r = request(a, complete.getOrDefault(a, n -> {}));
      assertThat(RequestValidation.problems(r)).as(a.wire()).isEmpty();
      assertThat(problems(Schemas.REQUEST, r)).as(a.wire()).isEmpty();
    }
    // as the status API publishes it: every field, the longest values allowed
    Request full = new Request(Request.VERSION, "x".repeat(128), "s.e_s:s@i-on", "acme", "t".repeat(RequestValidation.MAX_TEXT_CHARS),
        Action.GENERATE, "zh-CN", new Request.Upload("https://u/" + "a".repeat(2038), "p".repeat(1024), "f".repeat(255), "c".repeat(255)),
        new Request.Output("o".repeat(32), "q".repeat(32)), null, "https://hooks.example.com/reelay?x=1&y=%20", AT);
    assertThat(RequestValidation.problems(full)).isEmpty();
    assertThat(problems(Schemas.REQUEST, full)).isEmpty();
    // no action: the text decides (or the upload)
    assertThat(problems(Schemas.REQUEST, Request.of("r-2", "s", "export it please", null))).isEmpty();
    assertThat(problems(Schemas.REQUEST, request(Action.UPLOAD, n -> {
      n.remove("action");
      n.putObject("upload").put("path", "clips/beach.mp4");
    }))).isEmpty();
  }

  @Test
  void malformedRequestsFailAsTheirValidationDoes() {
    List<Consumer<ObjectNode>> broken = List.of(
        n -> n.remove("requestId"),
        n -> n.remove("sessionKey"),
        n -> n.put("v", 2),
        n -> n.put("v", "1"),
        n -> n.put("requestId", "has spaces"),
        n -> n.put("sessionKey", "s".repeat(129)),
        n -> n.put("tenant", "a/b"),
        n -> n.put("text", "t".repeat(RequestValidation.MAX_TEXT_CHARS + 1)),
        n -> n.put("text", "   "),
        n -> n.remove("text"),
        n -> n.put("language", "l".repeat(36)),
        n -> n.put("action", "dance"),
        n -> n.put("callbackUrl", "ftp://example.com/x"),
        n -> n.put("callbackUrl", "https://example.com/a b"),
        n -> n.put("callbackUrl", "https://example.com/#frag"),
        n -> n.put("submittedAt", "yesterday"),
        n -> n.putObject("output").put("format", "f".repeat(33)),
        n -> n.putObject("upload").put("fileName", "f".repeat(256)));
    for (Consumer<ObjectNode> change : broken) {
      ObjectNode n = Json.mapper().valueToTree(request(Action.GENERATE, x -> {}));
      change.accept(n);
      assertThat(problems(Schemas.REQUEST, (JsonNode) n)).as(n.toString()).isNotEmpty();
    }
    ObjectNode cancel = Json.mapper().valueToTree(request(Action.CANCEL, n -> n.put("cancels", "r-1")));
    cancel.remove("cancels");
    assertThat(problems(Schemas.REQUEST, (JsonNode) cancel)).isNotEmpty();
    ObjectNode upload = Json.mapper().valueToTree(request(Action.UPLOAD, n -> n.putObject("upload").put("fileName", "a.mp4")));
    assertThat(problems(Schemas.REQUEST, (JsonNode) upload)).isNotEmpty(); // neither url nor path
    assertThat(RequestValidation.problems(Json.read(Json.bytes(upload), Request.class))).isNotEmpty();
  }

  @Test
  void eventsOfEveryStateValidateWithResultAndError() {
    for (RequestState s : RequestState.values()) {
      Phase phase = s == RequestState.RUNNING ? Phase.RENDERING : s.isTerminal() ? Phase.DONE : Phase.QUEUED;
      Event e = new Event(Event.VERSION, "r-1", "sess-1", "acme", s.ordinal(), AT, s, phase, "step", s.isTerminal() ? 1.0 : 0.25,
          null, null);
      assertThat(problems(Schemas.EVENT, e)).as(s.name()).isEmpty();
    }
    Event done = new Event(Event.VERSION, "r-1", "sess-1", "acme", 9, AT, RequestState.COMPLETED, Phase.DONE, "Your video is ready", 1.0,
        new Event.Result("https://cdn/r.mp4", "Timeline (1 tracks)", new Event.Credits(90, 10, 100),
            List.of(new Event.Media("a.mp4", "video", "https://cdn/a.mp4", 5.5), new Event.Media("b.png", null, null, null))),
        null);
    assertThat(problems(Schemas.EVENT, done)).isEmpty();
    Event failed = new Event(Event.VERSION, "r-1", null, "default", 1, AT, RequestState.REJECTED, Phase.DONE, "Rejected: bad", null, null,
        new Event.ErrorInfo("INVALID_REQUEST", "bad", false, "Fix the request"));
    assertThat(problems(Schemas.EVENT, failed)).isEmpty();
    assertThat(problems(Schemas.EVENT, Event.submitted(Request.of("r-3", "s", "a fox", null), AT))).isEmpty();
  }

  @Test
  void malformedEventsFail() {
    Event ok = new Event(Event.VERSION, "r-1", "s", "acme", 3, AT, RequestState.FAILED, Phase.DONE, "no", null,
        new Event.Result(null, null, new Event.Credits(1, 2, 3), null), new Event.ErrorInfo("2001", "credits", false, null));
    List<Consumer<ObjectNode>> broken = List.of(
        n -> n.remove("seq"),
        n -> n.put("seq", -1),
        n -> n.put("seq", "3"),
        n -> n.put("state", "SLEEPING"),
        n -> n.put("phase", "done"),
        n -> n.put("at", 1769860800),
        n -> n.put("progress", 1.5),
        n -> n.remove("tenant"),
        n -> ((ObjectNode) n.get("error")).remove("retryable"),
        n -> ((ObjectNode) n.get("error")).put("retryable", "no"),
        n -> ((ObjectNode) n.get("result").get("credits")).put("total", 3.5),
        n -> ((ObjectNode) n.get("result")).put("media", "a.mp4"));
    assertThat(problems(Schemas.EVENT, ok)).isEmpty();
    for (Consumer<ObjectNode> change : broken) {
      ObjectNode n = Json.mapper().valueToTree(ok);
      change.accept(n);
      assertThat(problems(Schemas.EVENT, (JsonNode) n)).as(n.toString()).isNotEmpty();
    }
  }

  @Test
  void snapshotsValidateAndTheirPendingTerminalIsAnEvent() {
    Event pending = new Event(Event.VERSION, "r-0", "s-1", "acme", 9, AT, RequestState.COMPLETED, Phase.DONE, "done", 1.0, null, null);
    SessionSnapshot s = new SessionSnapshot(SessionSnapshot.VERSION, "s-1", "acme", "c-1", "anon_1", "123", "task_1", "en",
        "v2:AAECAwQFBgcICQoLDA0ODxAREhM=", AT, new SessionSnapshot.InFlight("r-1", Phase.RENDERING, "render_r-1", "fp", 4),
        List.of("r-0"), 41L, pending, AT);
    assertThat(problems(Schemas.SESSION_SNAPSHOT, s)).isEmpty();
    SessionSnapshot fresh = new SessionSnapshot(SessionSnapshot.VERSION, "s-1", "default", null, null, null, null, null, null, null,
        null, List.of(), null, null, AT);
    assertThat(problems(Schemas.SESSION_SNAPSHOT, fresh)).isEmpty();

    ObjectNode plain = Json.mapper().valueToTree(s);
    plain.put("encryptedToken", "the-token-in-clear");
    assertThat(problems(Schemas.SESSION_SNAPSHOT, (JsonNode) plain)).isNotEmpty();
    ObjectNode badPending = Json.mapper().valueToTree(s);
    ((ObjectNode) badPending.get("pendingTerminal")).put("state", "DONE");
    assertThat(problems(Schemas.SESSION_SNAPSHOT, (JsonNode) badPending)).isNotEmpty();
    ObjectNode badPhase = Json.mapper().valueToTree(s);
    ((ObjectNode) badPhase.get("inFlight")).put("phase", "THINKING");
    assertThat(problems(Schemas.SESSION_SNAPSHOT, (JsonNode) badPhase)).isNotEmpty();
  }

  @Test
  void deadLetterHeadersValidate() {
    ObjectNode h = Json.mapper().createObjectNode()
        .put("reelay.reason", "not a valid request: not JSON (it ends early: cut off?)")
        .put("reelay.source.topic", "reelay.requests")
        .put("reelay.source.partition", "2")
        .put("reelay.source.offset", "41")
        .put("reelay.at", AT.toString());
    assertThat(problems(Schemas.DEAD_LETTER, (JsonNode) h)).isEmpty();
    assertThat(problems(Schemas.DEAD_LETTER, (JsonNode) h.deepCopy().put("reelay.truncated", "2000000"))).isEmpty();
    assertThat(problems(Schemas.DEAD_LETTER, (JsonNode) h.deepCopy().put("reelay.source.offset", "-1"))).isNotEmpty();
    assertThat(problems(Schemas.DEAD_LETTER, (JsonNode) h.deepCopy().put("reelay.truncated", "big"))).isNotEmpty();
    ObjectNode noReason = h.deepCopy();
    noReason.remove("reelay.reason");
    assertThat(problems(Schemas.DEAD_LETTER, (JsonNode) noReason)).isNotEmpty();
  }

  @Test
  void enumsAreTheJavaEnums() {
    JsonNode request = Json.read(Schemas.text(Schemas.REQUEST), JsonNode.class);
    JsonNode event = Json.read(Schemas.text(Schemas.EVENT), JsonNode.class);
    assertThat(texts(request.at("/$defs/action/enum"))).containsExactlyElementsOf(Arrays.stream(Action.values()).map(Action::wire).toList());
    assertThat(texts(event.at("/$defs/state/enum"))).containsExactlyElementsOf(Arrays.stream(RequestState.values()).map(Enum::name).toList());
    assertThat(texts(event.at("/$defs/phase/enum"))).containsExactlyElementsOf(Arrays.stream(Phase.values()).map(Enum::name).toList());
  }

  @Test
  void everyFieldOfTheRecordsIsDescribed() {
    assertThat(fieldNames(Schemas.REQUEST, "")).containsExactlyInAnyOrderElementsOf(components(Request.class));
    assertThat(fieldNames(Schemas.REQUEST, "/properties/upload")).containsExactlyInAnyOrderElementsOf(components(Request.Upload.class));
    assertThat(fieldNames(Schemas.REQUEST, "/properties/output")).containsExactlyInAnyOrderElementsOf(components(Request.Output.class));
    assertThat(fieldNames(Schemas.EVENT, "")).containsExactlyInAnyOrderElementsOf(components(Event.class));
    assertThat(fieldNames(Schemas.EVENT, "/$defs/result")).containsExactlyInAnyOrderElementsOf(components(Event.Result.class));
    assertThat(fieldNames(Schemas.EVENT, "/$defs/credits")).containsExactlyInAnyOrderElementsOf(components(Event.Credits.class));
    assertThat(fieldNames(Schemas.EVENT, "/$defs/media")).containsExactlyInAnyOrderElementsOf(components(Event.Media.class));
    assertThat(fieldNames(Schemas.EVENT, "/$defs/error")).containsExactlyInAnyOrderElementsOf(components(Event.ErrorInfo.class));
    assertThat(fieldNames(Schemas.SESSION_SNAPSHOT, "")).containsExactlyInAnyOrderElementsOf(components(SessionSnapshot.class));
    assertThat(fieldNames(Schemas.SESSION_SNAPSHOT, "/$defs/inFlight"))
        .containsExactlyInAnyOrderElementsOf(components(SessionSnapshot.InFlight.class));
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  private static List<String> fieldNames(String schema, String pointer) {
    List<String> out = new ArrayList<>();
    Json.read(Schemas.text(schema), JsonNode.class).at(pointer + "/properties").fieldNames().forEachRemaining(out::add);
    return out;
  }

  private static List<String> components(Class<? extends Record> type) {
    return Arrays.stream(type.getRecordComponents()).map(java.lang.reflect.RecordComponent::getName).toList();
  }
}
