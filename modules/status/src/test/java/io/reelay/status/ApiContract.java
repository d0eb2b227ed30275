package io.reelay.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.dialect.Dialects;
import io.reelay.protocol.Json;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The served OpenAPI document and what a real answer must satisfy to agree with it: its route and
 * method are documented, its status code is one the operation lists, the headers the response
 * requires are there and fit their schemas, its content type is listed, and its body validates
 * against the schema (JSON Schema 2020-12 in the OpenAPI 3.1 dialect) with no field the document
 * does not name. SSE bodies: every event's data against the schema the media type names in {@code
 * x-sse-data-schema}.
 */
final class ApiContract {

  /** The document's base URI for the validator: an identifier only, nothing is fetched. */
  static final String DOC_ID = "https://reelay.io/status/openapi.json";

  static final List<String> METHODS = List.of("get", "put", "post", "delete", "patch");

  final String yaml;
  final JsonNode doc;
  final SwaggerParseResult parsed;
  private final SchemaRegistry registry;
  private final Map<String, Schema> schemas = new ConcurrentHashMap<>();
  private final Map<String, Pattern> templates = new LinkedHashMap<>();

  ApiContract(String yaml) {
    this.yaml = yaml;
    try {
      this.doc = new ObjectMapper(new YAMLFactory()).readTree(yaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    ParseOptions options = new ParseOptions();
    options.setResolve(true);
    options.setValidateInternalRefs(true);
    this.parsed = new OpenAPIV3Parser().readContents(yaml, null, options);
    String json = Json.string(doc);
    this.registry = SchemaRegistry.withDialect(Dialects.getOpenApi31(), b -> b
        .schemas(Map.of(DOC_ID, json))
        .schemaRegistryConfig(SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build()));
    doc.path("paths").fieldNames().forEachRemaining(t ->
        templates.put(t, Pattern.compile(Pattern.quote(t).replaceAll("\\{[^}]+}", "\\\\E[^/]+\\\\Q"))));
  }

  /** The documented path template a concrete path (without its query) matches, or null. */
  String template(String path) {
    String p = URI.create(path).getPath();
    return templates.entrySet().stream().filter(e -> e.getValue().matcher(p).matches()).map(Map.Entry::getKey).findFirst()
        .orElse(null);
  }

  /** Every documented (method, path template). */
  List<String> operations() {
    List<String> out = new ArrayList<>();
    doc.path("paths").properties().forEach(p -> METHODS.forEach(m -> {
      if (p.getValue().has(m)) {
        out.add(m.toUpperCase(Locale.ROOT) + " " + p.getKey());
      }
    }));
    return out;
  }

  /** The schema at a JSON pointer of the document ({@code /components/schemas/Event}). */
  Schema schema(String pointer) {
    return schemas.computeIfAbsent(pointer, p -> registry.getSchema(SchemaLocation.of(DOC_ID + "#" + p)));
  }

  List<String> validate(String pointer, JsonNode value) {
    List<String> out = new ArrayList<>();
    for (Error e : schema(pointer).validate(value)) {
      out.add(pointer + ": " + e);
    }
    undocumented(value, doc.at(pointer), "", out);
    return out;
  }

  /** What in one real answer to {@code method path} disagrees with the document (empty: nothing). */
  List<String> check(String method, String path, HttpResponse<String> r) {
    String template = template(path);
    if (template == null) {
      return List.of("no path of the document matches " + path);
    }
    String m = method.toLowerCase(Locale.ROOT);
    String op = "/paths/" + escape(template) + "/" + m;
    if (doc.at(op).isMissingNode()) {
      return List.of(method + " " + template + " is not in the document");
    }
    String status = Integer.toString(r.statusCode());
    String listed = op + "/responses/" + status;
    if (doc.at(listed).isMissingNode()) {
      listed = op + "/responses/" + status.charAt(0) + "XX";
    }
    if (doc.at(listed).isMissingNode()) {
      return List.of(method + " " + template + " answered " + status + ", which the document does not list");
    }
    String at = follow(listed);
    List<String> problems = new ArrayList<>();
    JsonNode response = doc.at(at);
    response.path("headers").fieldNames().forEachRemaining(name -> {
      String h = follow(at + "/headers/" + escape(name));
      JsonNode header = doc.at(h);
      var value = r.headers().firstValue(name);
      if (value.isEmpty()) {
        if (header.path("required").asBoolean()) {
          problems.add(method + " " + path + " " + status + ": no " + name + " header");
        }
      } else {
        JsonNode v = "integer".equals(doc.at(follow(h + "/schema")).path("type").asText()) && value.get().matches("-?\\d+")
            ? IntNode.valueOf(Integer.parseInt(value.get())) : TextNode.valueOf(value.get());
        problems.addAll(validate(follow(h + "/schema"), v));
      }
    });
    String type = r.headers().firstValue("Content-Type").map(v -> v.split(";")[0].trim().toLowerCase(Locale.ROOT)).orElse("");
    if (r.body().isEmpty() && type.isEmpty()) {
      return problems;
    }
    String media = at + "/content/" + escape(type);
    if (doc.at(media).isMissingNode()) {
      problems.add(method + " " + path + " " + status + " answered " + type + ", which the document does not list");
      return problems;
    }
    if (type.equals("application/json")) {
      problems.addAll(validate(follow(media + "/schema"), Json.read(r.body(), JsonNode.class)));
    } else if (type.equals("text/event-stream")) {
      String data = doc.at(media).path("x-sse-data-schema").asText();
      if (!data.startsWith("#/")) {
        problems.add(media + " names no x-sse-data-schema");
        return problems;
      }
      for (Sse e : Sse.parse(r.body())) {
        if (!e.data().isEmpty()) {
          JsonNode event = Json.read(e.data(), JsonNode.class);
          problems.addAll(validate(data.substring(1), event));
          if (!e.id().equals(event.path("seq").asText())) {
            problems.add("SSE id " + e.id() + " is not the event's seq " + event.path("seq"));
          }
        }
      }
    }
    return problems;
  }

  /** One event of an SSE body. */
  record Sse(String id, String data) {
    static List<Sse> parse(String body) {
      List<Sse> out = new ArrayList<>();
      for (String block : body.split("\n\n")) {
        String id = "";
        StringBuilder data = new StringBuilder();
        for (String line : block.split("\n")) {
          if (line.startsWith("id:")) {
            id = line.substring(3).strip();
          } else if (line.startsWith("data:")) {
            data.append(data.length() == 0 ? "" : "\n").append(line.substring(5).stripLeading());
          }
        }
        if (!block.isBlank()) {
          out.add(new Sse(id, data.toString()));
        }
      }
      return out;
    }
  }

  /** The pointer {@code at} refers to, following {@code $ref}s (local ones: the document is self-contained). */
  String follow(String at) {
    String p = at;
    for (int i = 0; i < 20 && doc.at(p).has("$ref"); i++) {
      String ref = doc.at(p).get("$ref").asText();
      if (!ref.startsWith("#/")) {
        throw new IllegalStateException(p + " refers outside the document: " + ref);
      }
      p = ref.substring(1);
    }
    return p;
  }

  static String escape(String segment) {
    return segment.replace("~", "~0").replace("/", "~1");
  }

  /** Names the fields of {@code value} that no schema reachable from {@code schema} (through $ref, allOf, anyOf, oneOf) declares. */
  void undocumented(JsonNode value, JsonNode schema, String where, List<String> out) {
    Map<String, List<JsonNode>> properties = new LinkedHashMap<>();
    List<JsonNode> items = new ArrayList<>();
    collect(schema, properties, items, 0);
    if (value.isObject()) {
      for (Map.Entry<String, JsonNode> f : value.properties()) {
        List<JsonNode> declared = properties.get(f.getKey());
        if (declared == null) {
          out.add(where + "/" + f.getKey() + " is answered but not in the document");
        } else {
          ObjectNode merged = Json.mapper().createObjectNode();
          merged.putArray("allOf").addAll(declared);
          undocumented(f.getValue(), merged, where + "/" + f.getKey(), out);
        }
      }
    } else if (value.isArray() && !items.isEmpty()) {
      for (int i = 0; i < value.size(); i++) {
        ObjectNode merged = Json.mapper().createObjectNode();
        merged.putArray("allOf").addAll(items);
        undocumented(value.get(i), merged, where + "/" + i, out);
      }
    }
  }

  private void collect(JsonNode schema, Map<String, List<JsonNode>> properties, List<JsonNode> items, int depth) {
    if (depth > 30 || schema == null || schema.isMissingNode()) {
      return;
    }
    JsonNode s = schema;
    while (s.has("$ref")) {
      s = doc.at(s.get("$ref").asText().substring(1));
    }
    s.path("properties").properties().forEach(p -> properties.computeIfAbsent(p.getKey(), k -> new ArrayList<>()).add(p.getValue()));
    if (s.has("items")) {
      items.add(s.get("items"));
    }
    for (String k : List.of("allOf", "anyOf", "oneOf")) {
      s.path(k).forEach(sub -> collect(sub, properties, items, depth + 1));
    }
  }
}
