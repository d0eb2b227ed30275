package io.reelay.sim;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A session's timeline in the backend's abbreviated form (nemo-api.md §4 E7): {@code t} = tracks,
 * {@code tt} = track type (0 video, 1 audio/BGM, 7 text), {@code sg} = segments, {@code d} = ms,
 * {@code m} = metadata. The segment keys besides {@code d} and {@code m} are undocumented; ours are
 * described in the module README. Immutable: every edit returns a new draft.
 */
public record Draft(@JsonProperty("t") List<Track> tracks) {

  public static final int VIDEO = 0;
  public static final int AUDIO = 1;
  public static final int TEXT = 7;

  public static final Draft EMPTY = new Draft(List.of());

  public Draft {
    tracks = List.copyOf(tracks);
  }

  /** One track: its type and its segments in time order. */
  public record Track(@JsonProperty("tt") int type, @JsonProperty("sg") List<Segment> segments) {
    public Track {
      segments = List.copyOf(segments);
    }
  }

  /**
   * One segment: {@code id}, {@code src} (media URL, absent for text), {@code start} (ms on the
   * timeline), {@code d} (duration, ms), {@code m} (metadata: title/width/height for video, name/volume
   * for audio, title/text for text).
   */
  public record Segment(
      @JsonProperty("id") String id,
      @JsonProperty("src") String src,
      @JsonProperty("start") long start,
      @JsonProperty("d") long duration,
      @JsonProperty("m") Map<String, Object> meta) {
    public Segment {
      meta = Collections.unmodifiableMap(new LinkedHashMap<>(meta));
    }
  }

  @JsonIgnore // not part of the wire form
  public boolean isEmpty() {
    return tracks.stream().allMatch(t -> t.segments().isEmpty());
  }

  public Optional<Track> track(int type) {
    return tracks.stream().filter(t -> t.type() == type).findFirst();
  }

  /** Length of the video track, ms: what a render of this draft lasts. */
  public long videoDurationMs() {
    return track(VIDEO).map(t -> t.segments().stream().mapToLong(Segment::duration).sum()).orElse(0L);
  }

  /** The draft with {@code segment} appended to the track of {@code type} (created when missing). */
  public Draft append(int type, Segment segment) {
    List<Track> out = new ArrayList<>(tracks);
    int i = indexOf(type);
    if (i < 0) {
      out.add(new Track(type, List.of(segment)));
    } else {
      List<Segment> sg = new ArrayList<>(out.get(i).segments());
      sg.add(segment);
      out.set(i, new Track(type, sg));
    }
    out.sort(Comparator.comparingInt(Track::type));
    return new Draft(out);
  }

  /** The draft with the track of {@code type} replaced by one holding only {@code segment}. */
  public Draft replace(int type, Segment segment) {
    List<Track> out = new ArrayList<>(tracks);
    int i = indexOf(type);
    if (i < 0) out.add(new Track(type, List.of(segment))); else out.set(i, new Track(type, List.of(segment)));
    out.sort(Comparator.comparingInt(Track::type));
    return new Draft(out);
  }

  private int indexOf(int type) {
    for (int i = 0; i < tracks.size(); i++) if (tracks.get(i).type() == type) return i;
    return -1;
  }

  /** "Timeline (3 tracks): 1. Video: … (0-5s) 2. BGM: … 3. Title: …", as the vendor's skill phrases it. */
  public String summary() {
    StringBuilder sb = new StringBuilder("Timeline (").append(tracks.size()).append(tracks.size() == 1 ? " track):" : " tracks):");
    int n = 1;
    for (Track t : tracks) {
      for (Segment s : t.segments()) {
        String label = switch (t.type()) {
          case VIDEO -> "Video: " + s.meta().getOrDefault("title", "clip");
          case AUDIO -> "BGM: " + s.meta().getOrDefault("name", "music");
          case TEXT -> "Title: \"" + s.meta().getOrDefault("title", "") + "\"";
          default -> "Track " + t.type();
        };
        sb.append(' ').append(n++).append(". ").append(label)
            .append(" (").append(seconds(s.start())).append('-').append(seconds(s.start() + s.duration())).append("s")
            .append(t.type() == AUDIO && s.meta().get("volume") instanceof Number v
                ? ", " + Math.round(v.doubleValue() * 100) + "%" : "")
            .append(')');
      }
    }
    return sb.toString();
  }

  private static String seconds(long ms) {
    return ms % 1000 == 0 ? Long.toString(ms / 1000) : String.format(Locale.ROOT, "%.1f", ms / 1000.0);
  }
}
