package io.reelay.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigResolver;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The configuration reference of docs/configuration.md, read from every module's reference.conf:
 * each key with its default, its environment variable and the comment above it. The tables between
 * {@link #BEGIN} and {@link #END} are generated ({@code ConfigReferenceTest} says how to rewrite them).
 */
final class ConfigReference {

  static final String BEGIN = "<!-- generated from the reference.conf files by ConfigReference: do not edit by hand -->";
  static final String END = "<!-- end of generated tables -->";

  /** Modules in the order the reference reads best: shared settings first, the command line last. */
  private static final List<String> ORDER = List.of("protocol", "nemo-client", "worker", "status", "nemo-sim", "cli");

  private static final Pattern NAMED_VARIABLE = Pattern.compile("\\$\\{\\?([A-Z][A-Z0-9_]*)}");
  private static final String MARK = "\u0000";

  private ConfigReference() {}

  /** One documented key (a leaf), or a block whose comment explains the keys under it. */
  record Key(String path, int line, boolean block, String defaultValue, String variable, String follows, String meaning) {}

  /** The checkout: the first directory up from here holding mvnw and modules/. */
  static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !(Files.exists(p.resolve("mvnw")) && Files.isDirectory(p.resolve("modules")))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException("not inside the checkout: " + Path.of("").toAbsolutePath());
    }
    return p;
  }

  /** Every module's reference.conf. */
  static List<Path> referenceFiles(Path root) {
    try (Stream<Path> modules = Files.list(root.resolve("modules"))) {
      return modules
          .map(m -> m.resolve("src/main/resources/reference.conf"))
          .filter(Files::exists)
          .sorted(Comparator.comparingInt((Path f) -> rank(module(f))).thenComparing(f -> module(f)))
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String module(Path referenceConf) {
    return referenceConf.getParent().getParent().getParent().getParent().getFileName().toString();
  }

  private static int rank(String module) {
    int i = ORDER.indexOf(module);
    return i < 0 ? ORDER.size() : i;
  }

  /** Whether a key is Reelay's (documented) rather than a library's (Pekko's). */
  static boolean ours(String path) {
    return path.startsWith("reelay.") || path.startsWith("nemo-sim.");
  }

  /** The {@code ${?VAR}} environment variables a reference.conf reads. */
  static Set<String> namedVariables(Path file) {
    Set<String> vars = new LinkedHashSet<>();
    Matcher m = NAMED_VARIABLE.matcher(read(file));
    while (m.find()) {
      vars.add(m.group(1));
    }
    return vars;
  }

  /** The leaf keys of a reference.conf (every one, ours and libraries'), as Config paths. */
  static List<String> leafPaths(Path file) {
    return defaults(file).entrySet().stream().map(Map.Entry::getKey).sorted().toList();
  }

  /** The keys of one reference.conf in file order: leaves, and the blocks that carry a comment. */
  static List<Key> keys(Path file) {
    Config plain = defaults(file);
    // substitutions the file cannot resolve alone (environment variables, other modules' keys) come
    // back marked with their name
    ConfigResolver naming = new ConfigResolver() {
      @Override
      public ConfigValue lookup(String path) {
        return ConfigValueFactory.fromAnyRef(MARK + path);
      }

      @Override
      public ConfigResolver withFallback(ConfigResolver fallback) {
        return this;
      }
    };
    Config marked = parse(file).resolve(ConfigResolveOptions.noSystem().appendResolver(naming));
    List<Key> keys = new ArrayList<>();
    for (Map.Entry<String, ConfigValue> e : plain.entrySet()) {
      String path = e.getKey();
      ConfigValue v = e.getValue();
      String variable = null;
      String follows = null;
      if (marked.getValue(path).unwrapped() instanceof String s && s.startsWith(MARK)) {
        String name = s.substring(MARK.length());
        if (name.matches("[A-Z][A-Z0-9_]*")) {
          variable = name;
        } else {
          follows = name;
        }
      }
      keys.add(new Key(path, v.origin().lineNumber(), false, render(v), variable, follows, comment(v)));
    }
    blocks(plain.root(), "", heading(file), keys);
    keys.sort(Comparator.comparingInt(Key::line).thenComparing(Key::path));
    return keys;
  }

  private static void blocks(ConfigObject o, String prefix, String heading, List<Key> out) {
    for (Map.Entry<String, ConfigValue> e : o.entrySet()) {
      if (e.getValue() instanceof ConfigObject child) {
        String path = prefix.isEmpty() ? ConfigUtil.joinPath(e.getKey()) : prefix + "." + ConfigUtil.joinPath(e.getKey());
        String meaning = comment(child);
        // the comment opening the file is written above the table, not as a row
        if (!meaning.isEmpty() && !text(meaning).equals(heading)) {
          out.add(new Key(path, child.origin().lineNumber(), true, null, null, null, meaning));
        }
        blocks(child, path, heading, out);
      }
    }
  }

  /** The generated part of docs/configuration.md. */
  static String markdown(Path root) {
    StringBuilder md = new StringBuilder();
    md.append(BEGIN).append("\n");
    for (Path file : referenceFiles(root)) {
      String rel = root.relativize(file).toString().replace('\\', '/');
      md.append("\n## ").append(module(file)).append("\n\n");
      md.append(heading(file)).append(" From [`").append(rel).append("`](../").append(rel).append(").\n\n");
      md.append("| key | default | environment | meaning |\n|---|---|---|---|\n");
      List<Key> keys = keys(file);
      List<String> lines = List.of(read(file).split("\n", -1));
      List<String> libraries = new ArrayList<>();
      for (Key k : keys) {
        if (!ours(k.path())) {
          if (!k.block()) {
            libraries.add("`" + k.path() + " = " + k.defaultValue() + "`" + (k.meaning().isEmpty() ? "" : " (" + text(k.meaning()) + ")"));
          }
          continue;
        }
        md.append("| `").append(k.path()).append("` | ");
        if (k.block()) {
          md.append("(block) | | ").append(text(k.meaning())).append(" |\n");
          continue;
        }
        md.append(k.defaultValue().isEmpty() ? "" : "`" + k.defaultValue().replace("|", "\\|") + "`").append(" | ");
        md.append(environment(k)).append(" | ");
        md.append(k.meaning().isEmpty() ? sharedMeaning(k, keys, lines) : text(k.meaning())).append(" |\n");
      }
      if (!libraries.isEmpty()) {
        md.append("\nThis file also sets a library's key: ").append(String.join("; ", libraries)).append("\n");
      }
    }
    md.append("\n").append(END).append("\n");
    return md.toString();
  }

  /** The variable that sets a key: its named one, else the CONFIG_FORCE_ form, else none. */
  private static String environment(Key k) {
    if (k.variable() != null) {
      return "`" + k.variable() + "`";
    }
    String forced = forceVariable(k.path());
    String s = forced == null ? "config file only (a quoted key)" : "`" + forced + "`";
    return k.follows() == null ? s : s + "; follows `" + k.follows() + "`";
  }

  /**
   * The {@code CONFIG_FORCE_} variable that sets {@code path} (Typesafe Config: {@code .} is {@code _},
   * {@code -} is {@code __}, {@code _} is {@code ___}); null for a path with a quoted element (a
   * Kafka property name with dots cannot be spelled that way).
   */
  static String forceVariable(String path) {
    if (path.contains("\"")) {
      return null;
    }
    return "CONFIG_FORCE_" + path.replace("_", "___").replace("-", "__").replace(".", "_");
  }

  /**
   * What a key without a comment of its own means: the comment of the key it is written under
   * without a blank line ({@code calls-burst} under {@code calls-per-second}), else its block's.
   */
  private static String sharedMeaning(Key k, List<Key> keys, List<String> lines) {
    String parent = k.path().substring(0, k.path().lastIndexOf('.'));
    int top = k.line();
    while (top - 2 >= 0 && plainKeyLine(lines.get(top - 2))) {
      top--;
    }
    for (Key other : keys) {
      if (other != k && !other.block() && other.line() == top && !other.meaning().isEmpty()
          && other.path().substring(0, other.path().lastIndexOf('.')).equals(parent)) {
        return "as `" + other.path() + "`, above";
      }
    }
    String block = null;
    for (Key other : keys) {
      if (other.block() && k.path().startsWith(other.path() + ".") && (block == null || other.path().length() > block.length())) {
        block = other.path();
      }
    }
    return block == null ? "" : "see `" + block + "`, above";
  }

  private static boolean plainKeyLine(String line) {
    String t = line.strip();
    return !t.isEmpty() && !t.startsWith("#") && !t.endsWith("{") && !t.startsWith("}");
  }

  /** The file's opening comment: what it configures. */
  private static String heading(Path file) {
    StringBuilder h = new StringBuilder();
    for (String line : read(file).split("\n")) {
      if (!line.startsWith("#")) {
        break;
      }
      h.append(h.length() == 0 ? "" : " ").append(line.substring(1).strip());
    }
    return text(h.toString());
  }

  private static Config parse(Path file) {
    return ConfigFactory.parseFile(file.toFile());
  }

  /** The file's own defaults: resolved without the environment, so a {@code ${?VAR}} adds nothing. */
  private static Config defaults(Path file) {
    return parse(file).resolve(ConfigResolveOptions.noSystem());
  }

  private static String render(ConfigValue v) {
    if (v.valueType() == ConfigValueType.STRING) {
      String s = (String) v.unwrapped();
      return s.isEmpty() ? "\"\"" : s;
    }
    return v.render(ConfigRenderOptions.concise());
  }

  private static String comment(ConfigValue v) {
    return v.origin().comments().stream().map(String::strip).collect(Collectors.joining(" ")).strip();
  }

  /** Prose for a table cell: no line breaks, {@code |} escaped, {@code <…>} shown rather than taken as HTML. */
  private static String text(String s) {
    String[] parts = s.replace("|", "\\|").split("`", -1);
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < parts.length; i++) {
      out.append(i == 0 ? "" : "`").append(i % 2 == 0 ? parts[i].replace("<", "\\<").replace(">", "\\>") : parts[i]);
    }
    return out.toString();
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * What main code reads from the environment: {@code System.getenv("X")}, and every string literal
   * that is a whole REELAY_/NEMO_ variable name (some are read through a helper, e.g. {@code
   * EmbeddedKafka.arg}).
   */
  static Set<String> variablesReadByMainCode(Path root) throws IOException {
    Pattern getenv = Pattern.compile("getenv\\(\"([A-Z][A-Z0-9_]*)\"\\)");
    Pattern literal = Pattern.compile("\"((?:REELAY|NEMO)_[A-Z0-9_]+)\"");
    Set<String> vars = new TreeSet<>();
    List<Path> roots = new ArrayList<>();
    try (Stream<Path> modules = Files.list(root.resolve("modules"))) {
      modules.map(m -> m.resolve("src/main/java")).filter(Files::isDirectory).forEach(roots::add);
    }
    if (Files.isDirectory(root.resolve("loadtest/src/main/java"))) {
      roots.add(root.resolve("loadtest/src/main/java"));
    }
    for (Path r : roots) {
      List<Path> sources;
      try (Stream<Path> s = Files.walk(r)) {
        sources = s.filter(p -> p.toString().endsWith(".java")).collect(Collectors.toList());
      }
      for (Path source : sources) {
        String code = Files.readString(source);
        for (Pattern p : List.of(getenv, literal)) {
          Matcher m = p.matcher(code);
          while (m.find()) {
            vars.add(m.group(1));
          }
        }
      }
    }
    return vars;
  }
}
