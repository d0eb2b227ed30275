package io.reelay.sim;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The simulated nemo_agent: turns a user message into a {@link Turn}. Two kinds of turn, after the
 * vendor's docs (nemo-api.md §5.4): a two-stage generation (raw clip, then BGM and title on its own)
 * and an edit (edit_multitrack, then text or, sometimes, silence).
 */
final class Agent {

  enum Kind { GENERATE, EDIT }

  private static final Pattern GENERATION_WORDS =
      Pattern.compile("\\b(generate|create|make|clip|video)\\b|生成|制作|视频", Pattern.CASE_INSENSITIVE);
  private static final Pattern SECONDS =
      Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*-?\\s*(?:seconds|second|secs|sec|s|秒)(?![a-z])", Pattern.CASE_INSENSITIVE);
  private static final Pattern QUOTED = Pattern.compile("[\"“「'‘]([^\"”」'’]{1,60})[\"”」'’]");
  private static final Pattern TITLE_AFTER = Pattern.compile("(?:title|caption|标题)\\s*(?:to|:|=|saying|that says)?\\s*(.+)$",
      Pattern.CASE_INSENSITIVE);
  private static final Pattern LEADING_FILLER = Pattern.compile(
      "^(?:please\\s+)?(?:(?:generate|create|make)\\s+)?(?:me\\s+)?(?:(?:a|an)\\s+)?"
          + "(?:\\d+(?:\\.\\d+)?\\s*-?\\s*(?:seconds|second|secs|sec|s)\\s+)?(?:long\\s+)?(?:(?:video|clip)\\s+)?"
          + "(?:(?:of|about|showing|with)\\s+)?(?:(?:a|an|the)\\s+)?",
      Pattern.CASE_INSENSITIVE);
  private static final java.util.Set<String> TRAILING_SMALL_WORDS =
      java.util.Set.of("a", "an", "the", "at", "of", "in", "on", "to", "through", "with", "and", "over", "under");
  private static final List<String> MUSIC = List.of("Lo-fi", "Ambient Piano", "Upbeat Pop", "Cinematic Strings", "Acoustic Folk");

  private final NemoBackend backend;
  private final SimSettings settings;

  Agent(NemoBackend backend) {
    this.backend = backend;
    this.settings = backend.settings;
  }

  static Kind classify(String text, Draft draft) {
    return draft.isEmpty() || GENERATION_WORDS.matcher(text).find() ? Kind.GENERATE : Kind.EDIT;
  }

  int cost(Kind kind) {
    return kind == Kind.GENERATE ? settings.generationCost() : settings.editCost();
  }

  /** The turn for a message whose cost is already frozen on {@code account}. */
  Turn turn(Kind kind, String text, BackendSession session, Account account, SimStats stats) {
    return kind == Kind.GENERATE ? generation(text, session, account, stats) : edit(text, session, account, stats);
  }

  // ---- generation ---------------------------------------------------------------------------------

  private Turn generation(String prompt, BackendSession session, Account account, SimStats stats) {
    stats.generations.increment();
    Duration total = pick(settings.timing().generationMin(), settings.timing().generationMax());
    long clipMs = clipMillis(prompt);
    String title = titleFromPrompt(prompt);
    String genCall = backend.ids.shortId("af-");
    String bgmCall = backend.ids.shortId("af-");
    String titleCall = backend.ids.shortId("af-");
    String music = MUSIC.get((int) Math.floorMod(session.sessionId.hashCode(), MUSIC.size()));
    int w = settings.videoWidth();
    int h = settings.videoHeight();

    List<Turn.Beat> beats = new ArrayList<>();
    beats.add(new Turn.Beat(share(total, 0.03), () -> List.of(new AgentEvent.ToolCall(genCall, "generate_video_with_seedance",
        map("prompt", prompt, "duration", clipMs / 1000.0, "aspect_ratio", aspect(w, h), "resolution", w + "x" + h)))));
    beats.add(new Turn.Beat(share(total, 0.70), () -> {
      NemoBackend.Media media = new NemoBackend.Media(backend.ids.shortId("media_"), clipMs, title, prompt);
      backend.addMedia(session, media);
      Draft d = session.updateDraft(draft -> {
        long start = draft.videoDurationMs();
        return draft.append(Draft.VIDEO, new Draft.Segment(backend.ids.shortId("seg_"), mediaUrl(media.id()), start, clipMs,
            map("title", title, "width", w, "height", h)));
      });
      return List.of(
          new AgentEvent.ToolResult(genCall, "generate_video_with_seedance",
              map("status", "success", "video_url", mediaUrl(media.id()), "duration", clipMs / 1000.0)),
          new AgentEvent.Text("Your raw clip is ready: " + seconds(clipMs) + " s of \"" + title + "\" at " + w + "x" + h
              + ". I'm now adding background music and a title. " + d.summary()));
    }));
    beats.add(new Turn.Beat(share(total, 0.02), () -> List.of(new AgentEvent.ToolCall(bgmCall, "add_background_music",
        map("style", music, "volume", 0.35)))));
    beats.add(new Turn.Beat(share(total, 0.10), () -> {
      session.updateDraft(draft -> draft.replace(Draft.AUDIO, bgm(music, draft.videoDurationMs())));
      return List.of(new AgentEvent.ToolResult(bgmCall, "add_background_music", map("status", "success", "track", music)));
    }));
    beats.add(new Turn.Beat(share(total, 0.02), () -> List.of(new AgentEvent.ToolCall(titleCall, "add_title",
        map("text", title, "duration", 3.0)))));
    beats.add(new Turn.Beat(share(total, 0.10), () -> {
      session.updateDraft(draft -> draft.replace(Draft.TEXT, titleSegment(title)));
      return List.of(new AgentEvent.ToolResult(titleCall, "add_title", map("status", "success", "text", title)));
    }));
    beats.add(new Turn.Beat(share(total, 0.03), () -> {
      spend(account, settings.generationCost(), stats);
      // the GUI phrases are on purpose: the real agent assumes a GUI and clients must translate them
      return List.of(new AgentEvent.Text("Done! I added background music and a title. " + session.draft().summary()
          + " Preview it in the timeline, then click Export to download your video."));
    }));
    return new Turn(beats);
  }

  // ---- edit ---------------------------------------------------------------------------------------

  private Turn edit(String instruction, BackendSession session, Account account, SimStats stats) {
    stats.edits.increment();
    Duration total = pick(settings.timing().editMin(), settings.timing().editMax());
    String call = backend.ids.shortId("af-");
    boolean silent = backend.dice.roll(backend.dice.current().silentEdit());
    List<Turn.Beat> beats = new ArrayList<>();
    beats.add(new Turn.Beat(share(total, 0.1), () -> List.of(new AgentEvent.ToolCall(call, "edit_multitrack",
        map("instruction", instruction)))));
    beats.add(new Turn.Beat(share(total, 0.9), () -> {
      String what = applyEdit(instruction, session);
      spend(account, settings.editCost(), stats);
      List<AgentEvent> out = new ArrayList<>();
      out.add(new AgentEvent.ToolResult(call, "edit_multitrack", map("status", "success", "changed", what)));
      if (silent) {
        stats.silentEdits.increment(); // the vendor's ~30%: tool calls only, the client must poll the state
      } else {
        out.add(new AgentEvent.Text("Done: " + what + ". " + session.draft().summary()));
      }
      return out;
    }));
    return new Turn(beats);
  }

  /** Changes the draft as the instruction asks; returns what changed, in words. */
  private String applyEdit(String instruction, BackendSession session) {
    String lower = instruction.toLowerCase(Locale.ROOT);
    if (lower.matches(".*\\b(title|caption|heading)\\b.*") || instruction.contains("标题")) {
      String title = titleFromEdit(instruction);
      session.updateDraft(d -> d.replace(Draft.TEXT, titleSegment(title)));
      return "title set to \"" + title + "\"";
    }
    if (lower.matches(".*\\b(music|bgm|song|soundtrack|audio)\\b.*") || instruction.contains("音乐")) {
      String current = session.draft().track(Draft.AUDIO)
          .flatMap(t -> t.segments().stream().findFirst()).map(s -> String.valueOf(s.meta().get("name"))).orElse("");
      String next = MUSIC.get((MUSIC.indexOf(current) + 1) % MUSIC.size());
      session.updateDraft(d -> d.replace(Draft.AUDIO, bgm(next, d.videoDurationMs())));
      return "background music changed to " + next;
    }
    // anything else becomes a subtitle on the text track: visible in the state, harmless to a render
    String text = instruction.length() > 80 ? instruction.substring(0, 80) : instruction;
    session.updateDraft(d -> d.append(Draft.TEXT, new Draft.Segment(backend.ids.shortId("seg_"), null, 0,
        Math.max(1000, d.videoDurationMs()), map("text", text, "kind", "subtitle"))));
    return "subtitle added";
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private void spend(Account account, int cost, SimStats stats) {
    account.spend(cost);
    stats.creditsSpent.add(cost);
  }

  private Draft.Segment bgm(String name, long durationMs) {
    return new Draft.Segment(backend.ids.shortId("seg_"), "https://cdn.nemo-sim.local/bgm/"
        + name.toLowerCase(Locale.ROOT).replace(' ', '-') + ".mp3", 0, Math.max(1000, durationMs),
        map("name", name, "volume", 0.35));
  }

  private Draft.Segment titleSegment(String title) {
    return new Draft.Segment(backend.ids.shortId("seg_"), null, 0, 3000, map("title", title));
  }

  private String mediaUrl(String mediaId) {
    return backend.publicBaseUrl() + "/files/media/" + mediaId + ".mp4";
  }

  private Duration pick(Duration min, Duration max) {
    return settings.scaled(Duration.ofMillis(backend.ids.between(min, max)));
  }

  private static Duration share(Duration total, double fraction) {
    return Duration.ofNanos((long) (total.toNanos() * fraction));
  }

  /** The clip length the prompt asks for ("a 5-second clip"), 5 s by default, at most 15 s (one clip). */
  static long clipMillis(String prompt) {
    Matcher m = SECONDS.matcher(prompt);
    double s = m.find() ? Double.parseDouble(m.group(1)) : 5;
    return Math.round(Math.max(1, Math.min(15, s)) * 1000);
  }

  /** A short title from the prompt: quoted text if any, else its first words after "generate a … clip of". */
  static String titleFromPrompt(String prompt) {
    Matcher q = QUOTED.matcher(prompt);
    if (q.find()) return q.group(1).strip();
    String rest = LEADING_FILLER.matcher(prompt.strip()).replaceFirst("");
    List<String> words = new ArrayList<>(List.of(rest.replaceAll("[^\\p{L}\\p{N}\\s'-]", " ").strip().split("\\s+")));
    words.removeIf(String::isEmpty);
    if (words.size() > 6) words = new ArrayList<>(words.subList(0, 6));
    // "Fox Running Through A Snowy Forest", not "... Through A"
    while (words.size() > 1 && TRAILING_SMALL_WORDS.contains(words.get(words.size() - 1).toLowerCase(Locale.ROOT))) {
      words.remove(words.size() - 1);
    }
    StringBuilder sb = new StringBuilder();
    for (String w : words) {
      if (sb.length() > 0) sb.append(' ');
      sb.append(Character.toUpperCase(w.charAt(0))).append(w.substring(1));
    }
    return sb.length() == 0 ? "Untitled" : sb.toString();
  }

  static String titleFromEdit(String instruction) {
    Matcher q = QUOTED.matcher(instruction);
    if (q.find()) return q.group(1).strip();
    Matcher m = TITLE_AFTER.matcher(instruction.strip());
    String t = m.find() ? m.group(1).strip() : "";
    return t.isEmpty() ? "My Video" : (t.length() > 40 ? t.substring(0, 40) : t);
  }

  private static String aspect(int w, int h) {
    int a = w, b = h;
    while (b != 0) { int t = a % b; a = b; b = t; }
    return (w / a) + ":" + (h / a);
  }

  private static String seconds(long ms) {
    return ms % 1000 == 0 ? Long.toString(ms / 1000) : String.format(Locale.ROOT, "%.1f", ms / 1000.0);
  }

  /** An insertion-ordered map that, unlike Map.of, keeps JSON key order stable and allows building from pairs. */
  static Map<String, Object> map(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    return m;
  }
}
