// ijepa-viewer: the GLFW + OpenGL 3 loop around the viewer UI (gui/views), nothing else. With --screenshot it
// renders until the requested panel's work is done plus N frames, saves the back buffer as PNG (and what was drawn
// where as PNG.json) and exits.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"
#include "ijepa/host/proc/crash_report.hpp"
#include "render/gl_textures.hpp"
#include "views/viewer.hpp"

namespace {

constexpr const char* kUsage =
    "usage: ijepa-viewer [--run RUN|SWEEP|CHECKPOINT] [--data SOURCE|DIR|IMAGE] [--image FILE]\n"
    "                    [--panel mask|attention|prediction|runs] [--masker TYPE] [--set key=value]...\n"
    "                    [--seed N] [--batch N] [--index N] [--mask-batch-size B] [--image-size S] [--patch-size P]\n"
    "                    [--block B] [--head H] [--query Q] [--stats BATCHES] [--stats-batch-size N]\n"
    "                    [--size WxH] [--screenshot OUT.png [--frames N] [--timeout SECONDS]]\n"
    "                    [--plugin-dir DIR]... [--allow-insecure-plugins]";

struct Options {
  ijepa::gui::ViewerOptions viewer;
  std::string screenshot;
  int frames = 3;
  double timeout = 300;
  int width = 1280, height = 800;
  std::vector<std::string> plugin_dirs;
  bool allow_insecure = false;
};

long long to_int(const std::string& opt, const std::string& v, long long lo) {
  std::size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty()) throw std::invalid_argument("option " + opt + " expects an integer, got '" + v + "'");
  if (x < lo) throw std::invalid_argument("option " + opt + " must be >= " + std::to_string(lo) + ", got " + v);
  return x;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage << "\n";
      std::exit(0);
    }
    if (a == "--allow-insecure-plugins") {
      o.allow_insecure = true;
      continue;
    }
    if (i + 1 >= argc) throw std::invalid_argument("option " + a + " needs a value (or unknown option)");
    const std::string v = argv[++i];
    auto& vo = o.viewer;
    if (a == "--run") vo.run = v;
    else if (a == "--data" || a == "--image") vo.data = v;
    else if (a == "--panel") vo.panel = ijepa::gui::parse_panel(v);
    else if (a == "--masker") {
      vo.masker = v;
      vo.masker_given = true;
    }
    else if (a == "--set") vo.masker_sets.push_back(v);
    else if (a == "--seed") {
      vo.seed = static_cast<std::uint64_t>(to_int(a, v, 0));
      vo.seed_given = true;
    }
    else if (a == "--batch") vo.batch_number = static_cast<std::uint64_t>(to_int(a, v, 0));
    else if (a == "--index") vo.image_index = to_int(a, v, 0);
    else if (a == "--mask-batch-size") vo.mask_batch_size = to_int(a, v, 1);
    else if (a == "--image-size" || a == "--patch-size") {
      (a == "--image-size" ? vo.image_size : vo.patch_size) = to_int(a, v, 1);
      vo.grid_given = true;
    }
    else if (a == "--block") vo.block = static_cast<int>(to_int(a, v, 0));
    else if (a == "--head") vo.head = static_cast<int>(to_int(a, v, -1));
    else if (a == "--query") vo.query = to_int(a, v, 0);
    else if (a == "--stats") vo.stats_batches = static_cast<int>(to_int(a, v, 1));
    else if (a == "--stats-batch-size") vo.stats_batch_size = static_cast<int>(to_int(a, v, 1));
    else if (a == "--screenshot") o.screenshot = v;
    else if (a == "--frames") o.frames = static_cast<int>(to_int(a, v, 1));
    else if (a == "--timeout") o.timeout = static_cast<double>(to_int(a, v, 1));
    else if (a == "--plugin-dir") o.plugin_dirs.push_back(v);
    else if (a == "--size") {
      const auto x = v.find('x');
      if (x == std::string::npos) throw std::invalid_argument("option --size expects WxH, got '" + v + "'");
      o.width = static_cast<int>(to_int(a, v.substr(0, x), 200));
      o.height = static_cast<int>(to_int(a, v.substr(x + 1), 200));
    } else {
      throw std::invalid_argument("unknown option '" + a + "'");
    }
  }
  return o;
}

void glfw_error(int code, const char* msg) { std::fprintf(stderr, "ijepa-viewer: GLFW error %d: %s\n", code, msg); }

}  // namespace

int main(int argc, char** argv) {
  ijepa::host::proc::install_crash_report("ijepa-viewer");  // a crash writes signal, stage and backtrace first
  Options opt;
  try {
    opt = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "ijepa-viewer: error: " << e.what() << "\n" << kUsage << "\n";
    return 2;
  }
  // A --run that does not exist is a bad argument (2) with or without a display (it said "no display", 3, without).
  if (std::error_code ec; !opt.viewer.run.empty() && !std::filesystem::exists(opt.viewer.run, ec)) {
    std::cerr << "ijepa-viewer: error: --run " << opt.viewer.run
              << ": no such run directory, sweep directory or checkpoint\n";
    return 2;
  }

  glfwSetErrorCallback(glfw_error);
  if (!glfwInit()) {
    std::cerr << "ijepa-viewer: error: cannot initialise GLFW (no display? run under xvfb-run for --screenshot)\n";
    return 3;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_RESIZABLE, opt.screenshot.empty() ? GLFW_TRUE : GLFW_FALSE);
  if (!opt.screenshot.empty()) glfwWindowHint(GLFW_VISIBLE, GLFW_FALSE);
  GLFWwindow* window = glfwCreateWindow(opt.width, opt.height, "ijepa-viewer", nullptr, nullptr);
  if (!window) {
    std::cerr << "ijepa-viewer: error: cannot create an OpenGL 3.3 window\n";
    glfwTerminate();
    return 3;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(opt.screenshot.empty() ? 1 : 0);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init("#version 330");

  int rc = 0;
  {
    ijepa::host::PluginHost plugins;
    ijepa::host::LoaderOptions lo;
    for (const auto& d : opt.plugin_dirs) lo.extra_dirs.emplace_back(d);
    lo.allow_insecure = opt.allow_insecure;
    plugins.load_all(lo);
    ijepa::gui::GlTextureCache textures;
    std::unique_ptr<ijepa::gui::Viewer> viewer;
    try {
      viewer = std::make_unique<ijepa::gui::Viewer>(plugins, textures, opt.viewer);
    } catch (const std::exception& e) {
      std::cerr << "ijepa-viewer: error: " << e.what() << "\n";
      rc = 2;
    }
    const auto start = std::chrono::steady_clock::now();
    int ready_frames = 0;
    while (viewer && !glfwWindowShouldClose(window)) {
      if (opt.screenshot.empty()) {
        if (glfwGetWindowAttrib(window, GLFW_ICONIFIED)) {
          glfwWaitEventsTimeout(0.1);
          continue;
        }
        if (viewer->busy()) glfwPollEvents();
        else glfwWaitEventsTimeout(0.25);  // idle: wake for input or to follow runs live
      } else {
        glfwPollEvents();
      }
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      viewer->frame();
      ImGui::Render();
      int fw = 0, fh = 0;
      glfwGetFramebufferSize(window, &fw, &fh);
      glViewport(0, 0, fw, fh);
      glClearColor(0.08f, 0.08f, 0.1f, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      if (!opt.screenshot.empty()) {
        // Frames count once the panel's work is done (a frame after the results were collected).
        if (!viewer->busy()) ++ready_frames;
        else ready_frames = 0;
        if (ready_frames >= opt.frames) {
          const std::string err = ijepa::gui::save_screenshot(opt.screenshot, fw, fh);
          if (!err.empty()) {
            std::cerr << "ijepa-viewer: error: " << err << "\n";
            rc = 1;
          } else {
            // A run or checkpoint that did not load, or a panel showing an error: the picture shows an error message,
            // so the exit code and the capture's record say so too.
            // The runs and mask panels need no model: a run without a checkpoint yet draws them fine.
            const bool needs_model = viewer->capture().panel == "attention" || viewer->capture().panel == "prediction";
            std::string why = needs_model && !viewer->model_error().empty() ? viewer->model_error()
                                                                             : viewer->option_error();
            if (why.empty()) why = viewer->capture().error;
            nlohmann::json info = viewer->capture().to_json();
            if (!why.empty()) info["error"] = why;
            std::ofstream(opt.screenshot + ".json") << info.dump(2) << "\n";
            std::cout << "wrote " << opt.screenshot << " (" << fw << "x" << fh << ", panel "
                      << viewer->capture().panel << ")\n";
            if (!why.empty()) {
              // (an option out of range was said when it was found)
              if (why != viewer->option_error()) std::cerr << "ijepa-viewer: error: " << why << "\n";
              rc = 1;
            }
          }
          break;
        }
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (waited > opt.timeout) {
          std::cerr << "ijepa-viewer: error: the panel was still working after " << opt.timeout << " s (--timeout)\n";
          rc = 1;
          break;
        }
      }
      glfwSwapBuffers(window);
    }
    viewer.reset();
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return rc;
}
