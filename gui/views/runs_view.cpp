// Runs: browse run and sweep directories, plot training and evaluation curves, compare trials, follow live.
#include <algorithm>
#include <set>
#include <string>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "views/viewer.hpp"
#include "views/widgets.hpp"

namespace ijepa::gui {

void Viewer::open_runs(const std::string& root) {
  runs_root_ = root;
  runs_ = list_runs(root);
  selected_.clear();
  readers_.clear();
  summary_rows_.clear();
  summary_problems_.clear();
}

void Viewer::select_run(std::size_t index, bool add) {
  if (index >= runs_.size()) return;
  if (!add) {
    selected_.clear();
    readers_.clear();
    summary_rows_.clear();
    summary_problems_.clear();
  }
  if (std::find(selected_.begin(), selected_.end(), index) != selected_.end()) return;
  const RunEntry& e = runs_[index];
  if (e.kind == DirKind::sweep) {
    summary_problems_.clear();
    summary_rows_ = read_jsonl(e.dir / "summary.jsonl", &summary_problems_);
    // A sweep selects all of its trials for comparison.
    selected_.push_back(index);
    // (its trials follow it in the list; names are relative to the browsed root, so the sweep itself may be the
    // root, whose trials are named trials/<name>)
    for (std::size_t i = index + 1; i < runs_.size() && runs_[i].dir.parent_path() == e.dir / "trials"; ++i) {
      selected_.push_back(i);
      readers_.push_back(std::make_unique<RunReader>(runs_[i].dir));
      readers_.back()->poll();
    }
    return;
  }
  selected_.push_back(index);
  readers_.push_back(std::make_unique<RunReader>(e.dir));
  readers_.back()->poll();
}

void Viewer::draw_runs() {
  ImGui::BeginChild("runs_list", ImVec2(380, 0), true);
  ImGui::SetNextItemWidth(260);
  ImGui::InputTextWithHint("##root", "runs, sweep or run directory", &runs_root_);
  ImGui::SameLine();
  if (ImGui::Button("Browse")) open_runs(runs_root_);
  ImGui::Checkbox("follow live", &live_);
  ImGui::SameLine();
  ImGui::Checkbox("log-scale loss", &log_loss_);
  ImGui::TextDisabled("click: show; ctrl-click: compare");
  if (runs_.empty()) ImGui::TextWrapped("No run or sweep directories under %s.", runs_root_.c_str());
  for (std::size_t i = 0; i < runs_.size(); ++i) {
    const RunEntry& e = runs_[i];
    const bool sel = std::find(selected_.begin(), selected_.end(), i) != selected_.end();
    const std::string label = (e.kind == DirKind::sweep ? "[sweep] " : "") + e.name + "  (" + e.state + ")";
    if (ImGui::Selectable(label.c_str(), sel)) select_run(i, ImGui::GetIO().KeyCtrl);
  }
  ImGui::EndChild();

  const double now = ImGui::GetTime();
  if (live_ && (last_poll_ < 0 || now - last_poll_ > 0.5)) {
    for (auto& r : readers_) {
      r->poll();
      // The list's state of a followed run moves with its status.json (running -> completed, stopped -> running).
      for (RunEntry& e : runs_) {
        if (e.kind == DirKind::run && e.dir == r->data().dir && r->data().status.is_object()) e.state = r->data().state;
      }
    }
    last_poll_ = now;
  }

  ImGui::SameLine();
  ImGui::BeginChild("runs_view", ImVec2(0, 0), false);
  if (readers_.empty()) {
    ImGui::TextUnformatted("Choose a run (or a sweep to compare its trials).");
  }
  for (std::size_t i = 0; i < readers_.size(); ++i) {
    const RunData& d = readers_[i]->data();
    const nlohmann::json& st = d.status;
    const long long step = st.is_object() ? st.value("step", -1LL) : -1LL;
    const long long total = st.is_object() ? st.value("total_steps", -1LL) : -1LL;
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(line_colour(static_cast<int>(i))), "%s", d.name.c_str());
    ImGui::SameLine();
    ImGui::Text("%s, step %lld / %lld, %lld metric lines, %lld eval lines", d.state.c_str(), step, total,
                static_cast<long long>(d.metric_lines), static_cast<long long>(d.eval_lines));
    for (const auto& p : d.problems) ImGui::TextColored(ImVec4(1, 0.6f, 0.3f, 1), "  %s", p.c_str());
  }
  const float w = std::max(200.0f, (ImGui::GetContentRegionAvail().x - 8) / 2);
  const float h = 170;
  auto plot = [&](const char* title, const std::string& key, bool log_y) {
    std::vector<PlotLine> lines;
    for (std::size_t i = 0; i < readers_.size(); ++i) {
      const auto& m = readers_[i]->data().metrics;
      auto it = m.find(key);
      if (it != m.end()) lines.push_back(PlotLine{readers_[i]->data().name, &it->second, line_colour(static_cast<int>(i))});
    }
    line_plot(title, lines, ImVec2(w, h), log_y);
  };
  if (!readers_.empty()) {
    plot("loss", "loss", log_loss_);
    ImGui::SameLine();
    plot("learning rate", "lr", false);
    plot("EMA momentum", "ema_m", false);
    ImGui::SameLine();
    plot("weight decay", "wd", false);
    // Any other numeric key of metrics.jsonl: the run health's health.*, k_enc / k_pred, grad_norm, a plugin's own.
    std::set<std::string> more;
    for (const auto& r : readers_) {
      for (const auto& kv : r->data().metrics) {
        if (kv.first != "loss" && kv.first != "lr" && kv.first != "ema_m" && kv.first != "wd") more.insert(kv.first);
      }
    }
    if (!more.empty()) {
      if (extra_metric_.empty() || !more.count(extra_metric_)) {
        extra_metric_ = more.count("health.rank_target") ? "health.rank_target" : *more.begin();
      }
      ImGui::SetNextItemWidth(300);
      if (ImGui::BeginCombo("training metric", extra_metric_.c_str())) {
        for (const auto& k : more) {
          if (ImGui::Selectable(k.c_str(), k == extra_metric_)) extra_metric_ = k;
        }
        ImGui::EndCombo();
      }
      plot(extra_metric_.c_str(), extra_metric_, false);
    }
    // Evaluation curves: one metric across the selected runs, with the random-init baseline dashed in grey.
    std::set<std::string> keys;
    for (const auto& r : readers_) {
      for (const auto& kv : r->data().evals) {
        if (kv.first.find("random-init") == std::string::npos) keys.insert(kv.first);
      }
    }
    if (!keys.empty()) {
      if (eval_metric_.empty() || !keys.count(eval_metric_)) eval_metric_ = *keys.begin();
      ImGui::SetNextItemWidth(300);
      if (ImGui::BeginCombo("evaluation", eval_metric_.c_str())) {
        for (const auto& k : keys) {
          if (ImGui::Selectable(k.c_str(), k == eval_metric_)) eval_metric_ = k;
        }
        ImGui::EndCombo();
      }
      std::vector<PlotLine> lines;
      for (std::size_t i = 0; i < readers_.size(); ++i) {
        const auto& ev = readers_[i]->data().evals;
        if (auto it = ev.find(eval_metric_); it != ev.end()) {
          lines.push_back(PlotLine{readers_[i]->data().name, &it->second, line_colour(static_cast<int>(i))});
        }
        if (auto it = ev.find(eval_metric_ + " random-init"); it != ev.end()) {
          lines.push_back(PlotLine{"random init", &it->second, IM_COL32(150, 150, 150, 255)});
        }
      }
      line_plot(eval_metric_.c_str(), lines, ImVec2(2 * w, h), false);
    } else {
      ImGui::TextDisabled("no evaluation results (eval.jsonl) yet");
    }
  }
  if (!summary_rows_.empty() || !summary_problems_.empty()) {
    ImGui::Separator();
    ImGui::TextUnformatted("Sweep summary (summary.jsonl)");
    for (const auto& p : summary_problems_) ImGui::TextColored(ImVec4(1, 0.6f, 0.3f, 1), "%s", p.c_str());
    // Columns: the trial's name, its swept values and its metrics first (what tells the trials apart), then the other
    // fields of the record; "values.x" and "metrics.y" are read one level down.
    std::vector<std::string> cols{"name"}, rest;
    auto add = [](std::vector<std::string>& v, const std::string& k) {
      if (std::find(v.begin(), v.end(), k) == v.end()) v.push_back(k);
    };
    for (const char* group : {"values", "metrics"}) {
      for (const auto& row : summary_rows_) {
        if (!row.is_object() || !row.contains(group) || !row[group].is_object()) continue;
        for (auto it = row[group].begin(); it != row[group].end(); ++it) add(cols, std::string(group) + "." + it.key());
      }
    }
    for (const auto& row : summary_rows_) {
      if (!row.is_object()) continue;
      for (auto it = row.begin(); it != row.end(); ++it) {
        if (it->is_primitive() && it.key() != "name" && it.key() != "index") add(rest, it.key());
      }
    }
    cols.insert(cols.end(), rest.begin(), rest.end());
    if (cols.size() > 16) cols.resize(16);
    auto cell = [](const nlohmann::json& row, const std::string& col) -> const nlohmann::json* {
      if (!row.is_object()) return nullptr;
      for (const char* group : {"values.", "metrics."}) {
        const std::string g(group);
        if (col.rfind(g, 0) == 0) {  // a pointer into the row itself (value() would return a copy)
          const auto sub = row.find(g.substr(0, g.size() - 1));
          if (sub == row.end() || !sub->is_object()) return nullptr;
          const auto v = sub->find(col.substr(g.size()));
          return v == sub->end() ? nullptr : &*v;
        }
      }
      const auto v = row.find(col);
      return v == row.end() ? nullptr : &*v;
    };
    if (ImGui::BeginTable("summary", static_cast<int>(cols.size()),
                          ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollX)) {
      for (const auto& c : cols) ImGui::TableSetupColumn(c.c_str());
      ImGui::TableHeadersRow();
      for (const auto& row : summary_rows_) {
        ImGui::TableNextRow();
        for (std::size_t c = 0; c < cols.size(); ++c) {
          ImGui::TableSetColumnIndex(static_cast<int>(c));
          if (const nlohmann::json* v = cell(row, cols[c])) {
            const std::string s = v->is_string() ? v->get<std::string>() : v->dump();
            ImGui::TextUnformatted(s.c_str());
          }
        }
      }
      ImGui::EndTable();
    }
  }
  ImGui::EndChild();
}

}  // namespace ijepa::gui
