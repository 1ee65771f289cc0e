// VQA answer metrics of shirg-eval: exact match, ANLS (DocVQA) and relaxed accuracy (ChartQA).
// Pure functions over UTF-8 strings (no gRPC), unit-tested in tests/clients/test_client_eval.cpp.
// Every metric takes the list of accepted answers and returns the best score over it, in [0, 1].
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace shirg::clients {

// Trims whitespace, collapses inner whitespace runs to one space and lower-cases ASCII letters
// (the DocVQA normalisation: " ".join(s.strip().lower().split())).
std::string normalize_answer(const std::string& s);

// Levenshtein distance between two strings, counted in Unicode code points (invalid UTF-8
// bytes count as one code point each).
std::size_t levenshtein(const std::string& a, const std::string& b);

// 1 if the normalised prediction equals a normalised answer, else 0.
double exact_match(const std::string& prediction, const std::vector<std::string>& answers);

// ANLS of one question (Biten et al. 2019, DocVQA): max over answers of 1 - NL when NL < 0.5,
// else 0, where NL = levenshtein / max(length) of the normalised strings (NL = 0 when both
// are empty).
double anls(const std::string& prediction, const std::vector<std::string>& answers);

// A number as ChartQA's relaxed accuracy reads it: the whole trimmed string parsed as a finite
// decimal number, a trailing '%' divides by 100 ("50%" -> 0.5). nullopt when not a number.
std::optional<double> parse_relaxed_number(const std::string& s);

// ChartQA's relaxed accuracy: when the answer is a number, 1 if the prediction is a number
// within 5% relative tolerance of it (|p - a| <= 0.05 |a|; an answer of 0 needs exactly 0);
// otherwise exact match (as exact_match). Max over the answers.
double relaxed_accuracy(const std::string& prediction, const std::vector<std::string>& answers,
                        double tolerance = 0.05);

}  // namespace shirg::clients
