package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * What a newcomer reads leads somewhere: every relative link of every README.md and docs/*.md names
 * a file of the repository, a README names no document that is not in it, and no README's command
 * carries one machine's paths or flags.
 */
class DocumentationTest {

  private static final Path ROOT = ConfigReference.repoRoot();

  private static final Pattern LINK = Pattern.compile("\\[[^\\]]*]\\(([^)\\s]+)(?:\\s+\"[^\"]*\")?\\)");
  private static final Pattern REFERENCE_LINK = Pattern.compile("^\\s*\\[[^\\]]+]:\\s*(\\S+)", Pattern.MULTILINE);
  private static final Pattern MD_NAME = Pattern.compile("(?<![A-Za-z0-9_./-])([A-Za-z0-9_./-]+\\.md)(?![A-Za-z0-9_])");
  private static final Pattern URL = Pattern.compile("[a-z][a-z0-9+.-]*://\\S+");
  private static final Pattern CODE_SPAN = Pattern.compile("`([^`]+)`");

  @Test
  void everyRelativeLinkOfTheReadmesAndDocsNamesAFileOfTheRepository() throws IOException {
    List<String> broken = new ArrayList<>();
    List<Path> pages = pages();
    assertThat(pages).contains(ROOT.resolve("README.md"), ROOT.resolve("docs/configuration.md"), ROOT.resolve("docs/design.md"));
    for (Path page : pages) {
      String text = withoutFencedCode(Files.readString(page));
      for (Pattern p : List.of(LINK, REFERENCE_LINK)) {
        Matcher m = p.matcher(text);
        while (m.find()) {
          String target = m.group(1);
          if (target.startsWith("<") && target.endsWith(">")) {
            target = target.substring(1, target.length() - 1);
          }
          if (target.matches("[a-z][a-z0-9+.-]*:.*") || target.startsWith("#")) {
            continue; // a web address, mail, or a place on the same page
          }
          String file = target.contains("#") ? target.substring(0, target.indexOf('#')) : target;
          if (!inRepository(page.getParent().resolve(file))) {
            broken.add(ROOT.relativize(page) + ": " + target);
          }
        }
      }
    }
    assertThat(broken).as("links to files that are not in the repository").isEmpty();
  }

  @Test
  void aReadmeNamesOnlyDocumentsThatAreInTheRepository() throws IOException {
    List<String> missing = new ArrayList<>();
    for (Path readme : readmes()) {
      String text = URL.matcher(Files.readString(readme)).replaceAll("");
      // a link's text may name its target briefly ([design.md](../docs/design.md)): the target is what counts
      text = LINK.matcher(text).replaceAll(link -> " " + Matcher.quoteReplacement(link.group(1)) + " ");
      Matcher m = MD_NAME.matcher(text);
      while (m.find()) {
        String name = m.group(1);
        if (!inRepository(readme.getParent().resolve(name)) && !inRepository(ROOT.resolve(name))) {
          missing.add(ROOT.relativize(readme) + ": " + name);
        }
      }
    }
    assertThat(missing).as("documents named (relative to the README or the repository root) that do not exist").isEmpty();
  }

  @Test
  void noReadmeCommandCarriesAbsolutePathsLocksOrOfflineFlags() throws IOException {
    List<String> found = new ArrayList<>();
    for (Path readme : readmes()) {
      String text = Files.readString(readme);
      for (String bad : List.of("/work/", "/tmp/")) {
        if (text.contains(bad)) {
          found.add(ROOT.relativize(readme) + " contains " + bad);
        }
      }
      for (String command : commands(text)) {
        if ((" " + command + " ").contains(" -o ") || command.contains("flock ")) {
          found.add(ROOT.relativize(readme) + ": " + command.strip());
        }
      }
    }
    assertThat(found).isEmpty();
  }

  /** The lines of fenced code blocks and the inline code spans: where a reader copies commands from. */
  private static List<String> commands(String markdown) {
    List<String> out = new ArrayList<>();
    boolean fenced = false;
    for (String line : markdown.split("\n")) {
      if (line.strip().startsWith("```")) {
        fenced = !fenced;
        continue;
      }
      if (fenced) {
        out.add(line);
      } else {
        Matcher m = CODE_SPAN.matcher(line);
        while (m.find()) {
          out.add(m.group(1));
        }
      }
    }
    return out;
  }

  private static String withoutFencedCode(String markdown) {
    StringBuilder out = new StringBuilder();
    boolean fenced = false;
    for (String line : markdown.split("\n")) {
      if (line.strip().startsWith("```")) {
        fenced = !fenced;
      } else if (!fenced) {
        out.append(line).append('\n');
      }
    }
    return out.toString();
  }

  private static boolean inRepository(Path p) {
    Path n = p.toAbsolutePath().normalize();
    return n.startsWith(ROOT) && Files.exists(n) && !n.toString().contains("/target/");
  }

  private static List<Path> readmes() throws IOException {
    try (Stream<Path> s = Files.walk(ROOT)) {
      return s.filter(p -> p.getFileName().toString().equals("README.md"))
          .filter(p -> !skipped(ROOT.relativize(p)))
          .sorted()
          .toList();
    }
  }

  private static List<Path> pages() throws IOException {
    List<Path> pages = new ArrayList<>(readmes());
    try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
      docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
    }
    return pages;
  }

  /** Build output, tool caches and the local working area are not the repository's documents. */
  private static boolean skipped(Path relative) {
    for (Path part : relative) {
      String s = part.toString();
      if (s.equals("target") || s.equals("node_modules") || s.equals("var") || s.equals("out") || s.startsWith(".")) {
        return true;
      }
    }
    return false;
  }
}
