package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;
import io.reelay.protocol.Json;
import io.reelay.protocol.Schemas;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every record a real worker writes — events, completions, session snapshots, dead letters — for
 * a few real requests (credits, a generate with its export, a state, a cancel of nothing, a record
 * without text, one that is not JSON) validates against the protocol's published JSON Schemas.
 */
class TopicSchemasTest {

  static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12, b -> b
      .schemaIdResolvers(r -> r.mapPrefix(Schemas.ID_BASE, "classpath:" + Schemas.RESOURCE_DIR))
      .schemaRegistryConfig(SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build()));

  private static WorkerHarness h;

  @BeforeAll
  static void start() throws Exception {
    h = new WorkerHarness(Map.of());
  }

  @AfterAll
  static void stop() throws Exception {
    h.close();
  }

  static List<String> problems(String schema, JsonNode value) {
    return REGISTRY.getSchema(SchemaLocation.of(Schemas.id(schema))).validate(value).stream().map(Error::toString).toList();
  }

  @Test
  void everyRecordTheWorkerWritesMatchesItsSchema() throws Exception {
    String s = "schemas-" + UUID.randomUUID();
    Map<String, String> requests = Map.of(
        "c-" + s, "\"action\":\"credits\"",
        "g-" + s, "\"text\":\"a city skyline at dusk\"",
        "st-" + s, "\"action\":\"state\"",
        "x-" + s, "\"action\":\"cancel\",\"cancels\":\"nothing-" + s + "\"",
        "bad-" + s, "\"action\":\"generate\"");
    for (var r : requests.entrySet()) {
      String json = "{\"v\":1,\"requestId\":\"" + r.getKey() + "\",\"sessionKey\":\"" + s + "\"," + r.getValue() + "}";
      // what we send: the schema agrees with the worker about which of them it runs
      assertThat(problems(Schemas.REQUEST, Json.read(json, JsonNode.class))).as(json).matches(p -> p.isEmpty() != r.getKey().startsWith("bad-"));
      h.publish(s, json);
    }
    h.publish(s, "{\"v\":1,\"requestId\":");
    h.terminalEvents(requests.keySet());

    List<JsonNode> events = valuesOfSession(h.readAll(h.topics.events()), s);
    List<JsonNode> completions = valuesOfSession(h.readAll(h.topics.completions()), s);
    List<JsonNode> snapshots = valuesOfSession(h.readAll(h.topics.sessions()), s);
    List<ObjectNode> deadLetters = h.readAll(h.topics.dlq()).stream().filter(r -> s.equals(r.key())).map(TopicSchemasTest::headers).toList();

    for (JsonNode e : events) {
      assertThat(problems(Schemas.EVENT, e)).as(e.toString()).isEmpty();
    }
    for (JsonNode e : completions) {
      assertThat(problems(Schemas.EVENT, e)).as(e.toString()).isEmpty();
      assertThat(e.path("state").asText()).isIn("COMPLETED", "FAILED", "CANCELLED", "REJECTED");
    }
    for (JsonNode snapshot : snapshots) {
      assertThat(problems(Schemas.SESSION_SNAPSHOT, snapshot)).as(snapshot.toString()).isEmpty();
    }
    for (ObjectNode headers : deadLetters) {
      assertThat(problems(Schemas.DEAD_LETTER, headers)).as(headers.toString()).isEmpty();
    }

    // and they hold every part of the schemas, not just the required fields
    assertThat(completions).extracting(e -> e.path("requestId").asText()).containsExactlyInAnyOrderElementsOf(requests.keySet());
    assertThat(events).anyMatch(e -> e.at("/result/credits").isObject());
    assertThat(events).anyMatch(e -> e.at("/result/downloadUrl").isTextual());
    assertThat(events).anyMatch(e -> e.path("state").asText().equals("REJECTED") && e.at("/error/code").asText().equals("INVALID_REQUEST"));
    assertThat(events).anyMatch(e -> e.path("state").asText().equals("RUNNING") && e.path("progress").isNumber());
    assertThat(snapshots).anyMatch(n -> n.path("inFlight").isObject());
    assertThat(snapshots).anyMatch(n -> n.path("encryptedToken").isTextual());
    assertThat(snapshots).anyMatch(n -> n.path("recentRequestIds").size() > 0);
    assertThat(deadLetters).hasSize(2); // no text, not JSON
  }

  /** The JSON values of the records of session {@code s} (events and completions are keyed tenant/requestId: look inside). */
  private static List<JsonNode> valuesOfSession(List<ConsumerRecord<String, byte[]>> records, String s) {
    List<JsonNode> out = new ArrayList<>();
    for (ConsumerRecord<String, byte[]> r : records) {
      if (r.value() != null) {
        JsonNode n = Json.read(r.value(), JsonNode.class);
        if (s.equals(n.path("sessionKey").asText())) {
          out.add(n);
        }
      }
    }
    assertThat(out).as("records of " + s).isNotEmpty();
    return out;
  }

  /** A DLQ record's headers as the object its schema describes: each name once, its value as UTF-8 text. */
  private static ObjectNode headers(ConsumerRecord<String, byte[]> r) {
    ObjectNode out = Json.mapper().createObjectNode();
    for (Header header : r.headers()) {
      assertThat(out.has(header.key())).as("header " + header.key() + " twice").isFalse();
      out.put(header.key(), new String(header.value(), StandardCharsets.UTF_8));
    }
    return out;
  }
}
