package io.reelay.loadtest.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What a report's figures were measured on: they hold for that machine only. */
public record Machine(int cores, long memoryBytes, String jvm, String os, long openFileLimit) {

  private static final Pattern KB = Pattern.compile("(\\d+)\\s*kB");

  /** This machine, as the JVM and {@code /proc} see it. */
  public static Machine here() {
    return new Machine(
        Runtime.getRuntime().availableProcessors(),
        meminfo("MemTotal"),
        System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"),
        System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"),
        readOpenFileLimit());
  }

  Map<String, Object> asMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cores", cores);
    m.put("memoryBytes", memoryBytes);
    m.put("jvm", jvm);
    m.put("os", os);
    m.put("openFileLimit", openFileLimit);
    return m;
  }

  String oneLine() {
    return cores + " cores, " + (memoryBytes >> 30) + " GiB, " + jvm + ", " + os
        + (openFileLimit > 0 ? ", open files " + openFileLimit : "");
  }

  private static long meminfo(String key) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith(key + ":")) {
          Matcher m = KB.matcher(line);
          return m.find() ? Long.parseLong(m.group(1)) * 1024 : -1;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: unknown
    }
    return Runtime.getRuntime().maxMemory();
  }

  private static long readOpenFileLimit() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max open files")) {
          String[] parts = line.substring("Max open files".length()).trim().split("\\s+");
          return parts[0].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(parts[0]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: unknown
    }
    return -1;
  }
}
