// Test helpers: run a parser over input bytes, however split, and write what happened as a short
// event log ("head GET / host=a | body hello | complete"), so each case is one line to compare.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "parser/message_parser.h"

namespace hoplite::parser::testing {

struct TranscriptOptions {
  bool finishAtEnd = false;  // call finish() after the last chunk
  bool stopAtUpgrade =
      false;                 // after an upgrade MessageComplete, log the unconsumed bytes and stop
  std::string expectMethod;  // responses: passed to expectResponseTo() before feeding
  ParserLimits limits;
};

// One log for the given chunks. Body deliveries between two events are merged, so the log does
// not depend on how many pieces the body came in.
std::string requestTranscript(const std::vector<std::string>& chunks,
                              const TranscriptOptions& options = {});
std::string responseTranscript(const std::vector<std::string>& chunks,
                               const TranscriptOptions& options = {});

// Every way this suite splits an input: whole, in two at every offset, in fixed-size pieces,
// and byte by byte.
std::vector<std::vector<std::string>> allSplits(std::string_view input);

}  // namespace hoplite::parser::testing
