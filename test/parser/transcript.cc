#include "transcript.h"

#include <catch2/catch.hpp>

namespace hoplite::parser::testing {

namespace {

const char* framingName(Framing f) {
  switch (f) {
    case Framing::None:
      return "";
    case Framing::Length:
      return " len=";
    case Framing::Chunked:
      return " chunked";
    case Framing::UntilClose:
      return " eof";
  }
  return "?";
}

std::string describe(const RequestHead& h) {
  std::string s = "head " + h.method + " " + h.target + " host=" + h.host;
  if (!h.isHttp11OrLater()) s += " 1.0";
  s += framingName(h.framing);
  if (h.framing == Framing::Length) s += std::to_string(h.contentLength);
  if (!h.keepAlive) s += " close";
  if (h.upgradeSignalled) s += " upgrade";
  if (h.expectsContinue) s += " continue";
  return s;
}

std::string describe(const ResponseHead& h) {
  std::string s = "head " + std::to_string(h.status);
  if (h.versionMinor == 0) s += " 1.0";
  s += framingName(h.framing);
  if (h.framing == Framing::Length) s += std::to_string(h.contentLength);
  if (!h.keepAlive) s += " close";
  if (h.upgradeSignalled) s += " upgrade";
  return s;
}

std::string describeTrailers(const HeaderList& trailers) {
  std::string s;
  for (const HeaderField& f : trailers) s += " " + f.name + ":" + f.value;
  return s.empty() ? s : " trailers" + s;
}

// Drives either parser. `Parser` is RequestParser or ResponseParser.
template <class Parser>
std::string run(Parser& parser, const std::vector<std::string>& chunks,
                const TranscriptOptions& options) {
  std::vector<std::string> log;
  std::string body;
  parser.setBodyHandler([&body](std::string_view s) {
    REQUIRE(!s.empty());
    body.append(s);
  });
  auto add = [&](std::string event) {
    if (!body.empty()) {
      log.push_back("body " + body);
      body.clear();
    }
    log.push_back(std::move(event));
  };
  auto joined = [&]() {
    std::string out;
    for (size_t i = 0; i < log.size(); ++i) out += (i ? " | " : "") + log[i];
    return out;
  };

  std::string pending;
  size_t next = 0;
  // Logs one event; false when the transcript ends with it.
  auto handle = [&](FeedResult r) {
    REQUIRE(r.consumed <= pending.size());
    pending.erase(0, r.consumed);
    switch (r.status) {
      case ParseStatus::NeedMore:
        REQUIRE(pending.empty());
        return true;
      case ParseStatus::HeadComplete:
        REQUIRE(body.empty());
        add(describe(parser.head()));
        REQUIRE_FALSE(parser.betweenMessages());
        return true;
      case ParseStatus::MessageComplete: {
        bool upgrade = false;
        if constexpr (std::is_same_v<Parser, RequestParser>) {
          upgrade = parser.upgradePaused();
        } else {
          upgrade = parser.head().status == 101;
        }
        REQUIRE(parser.betweenMessages());
        add(std::string("complete") + (upgrade ? " paused" : "") +
            describeTrailers(parser.trailers()));
        if (upgrade && (options.stopAtUpgrade || !std::is_same_v<Parser, RequestParser>)) {
          std::string rest = pending;
          while (next < chunks.size()) rest += chunks[next++];
          if (!rest.empty()) add("rest " + rest);
          return false;
        }
        return true;
      }
      case ParseStatus::Error:
        add("error " + std::to_string(parser.error().status));
        // Sticky: later feeds say Error again and consume nothing.
        REQUIRE(parser.feed("x").status == ParseStatus::Error);
        REQUIRE(parser.feed("x").consumed == 0);
        REQUIRE(parser.finish().status == ParseStatus::Error);
        return false;
    }
    return false;
  };
  while (true) {
    const FeedResult r = parser.feed(pending);
    if (r.status != ParseStatus::NeedMore) {
      if (!handle(r)) return joined();
      continue;
    }
    REQUIRE(r.consumed == pending.size());
    pending.clear();
    if (next < chunks.size()) {
      pending = chunks[next++];
      continue;
    }
    if (!options.finishAtEnd) break;
    const FeedResult f = parser.finish();
    if (f.status == ParseStatus::NeedMore) {
      add("eof");
    } else {
      handle(f);
    }
    return joined();
  }
  if (!body.empty()) add("(no event)");
  return joined();
}

}  // namespace

std::string requestTranscript(const std::vector<std::string>& chunks,
                              const TranscriptOptions& options) {
  RequestParser parser(options.limits);
  return run(parser, chunks, options);
}

std::string responseTranscript(const std::vector<std::string>& chunks,
                               const TranscriptOptions& options) {
  ResponseParser parser(options.limits);
  if (!options.expectMethod.empty()) parser.expectResponseTo(options.expectMethod);
  return run(parser, chunks, options);
}

std::vector<std::vector<std::string>> allSplits(std::string_view input) {
  std::vector<std::vector<std::string>> splits;
  splits.push_back({std::string(input)});
  for (size_t i = 1; i < input.size(); ++i) {
    splits.push_back({std::string(input.substr(0, i)), std::string(input.substr(i))});
  }
  // Fixed-size pieces, so that events also fall in the middle of later chunks.
  for (size_t size : {2, 3, 5, 7, 11}) {
    if (size >= input.size()) break;
    std::vector<std::string> pieces;
    for (size_t i = 0; i < input.size(); i += size) pieces.emplace_back(input.substr(i, size));
    splits.push_back(std::move(pieces));
  }
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  splits.push_back(std::move(bytes));
  return splits;
}

}  // namespace hoplite::parser::testing
