"""`concord matrix` with `conversions` and `twins` through the real binary and converters; a
PyTorch program as the matrix model (its source on torch@cpu, conversions from it).

    .venv/bin/python adapters/testing/matrix_conversions_e2e.py CONCORD_BIN

A small CNN (scripts/make_models.py example) is converted by the matrix to torch.export
(onnx2torch) and OpenVINO IR, and asked for a Keras conversion no installed tool makes. The
torch and openvino envs must run the converted files (not the ONNX file openvino could also read)
and agree with the reference interpreter on the ONNX model (the independent truth) within 1e-4;
the analysis classes those pairs "conversion"; the failed direction is recorded with the
converter's message; a rerun reuses the converted files. Needs the torch venv
(scripts/setup_venvs torch).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONCORD = ""


class MatrixConversions(unittest.TestCase):
    def test_conversions_run_on_their_envs_and_agree_with_ref(self) -> None:
        work = tempfile.mkdtemp(prefix="concord-conv-")
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "make_models.py"),
                        "example", work], check=True, capture_output=True)
        config = os.path.join(work, "m.json")
        with open(config, "w") as f:
            json.dump({"models": [{"name": "tiny", "path": "model.onnx", "conversions": [
                {"to": "torch"}, {"to": "openvino"}, {"to": "keras"}]}],
                "envs": ["ref", "ort@cpu,opt=3", "torch@cpu,opt=0", "openvino@cpu"],
                "dataset": {"random": 3}, "repeats": 1}, f)
        db = os.path.join(work, "m.db")
        p = subprocess.run([CONCORD, "matrix", config, "--db", db], capture_output=True,
                           text=True, timeout=1200)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("tiny: convert to torch", p.stderr)
        analysis = os.path.join(work, "a.json")
        p = subprocess.run([CONCORD, "report", db, "--out", os.path.join(work, "r.html"),
                            "--analysis-json", analysis], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(analysis) as f:
            model = json.load(f)["models"][0]
        status = {c["label"]: c for c in model["conversions"]}
        self.assertEqual(status["torch"]["status"], "ok")
        self.assertEqual(status["openvino"]["status"], "ok")
        self.assertEqual(status["keras"]["status"], "failed")
        self.assertIn("no installed converter goes from onnx to keras", status["keras"]["message"])
        pairs = {(q["a"], q["b"]): q for q in model["pairs"]}
        for env in ("torch@cpu,opt=0", "openvino@cpu"):
            with self.subTest(env=env):
                q = pairs[("ref@cpu", env)]
                self.assertEqual(q["kind"], "conversion")
                self.assertEqual(q["top1_agree"], 1.0)
                self.assertLess(q["max_abs"], 1e-4)
        self.assertEqual(pairs[("ref@cpu", "ort@cpu,opt=3")]["kind"], "library")
        self.assertEqual(pairs[("torch@cpu,opt=0", "openvino@cpu")]["kind"], "conversion")
        # A rerun (a new store) converts nothing: the files beside the store are reused.
        p = subprocess.run([CONCORD, "matrix", config, "--db", os.path.join(work, "m2.db"),
                            "--no-report"], capture_output=True, text=True, timeout=1200)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("convert to torch", p.stderr)
        self.assertIn("convert to keras", p.stderr)  # a failed direction is tried again

    def test_a_pytorch_source_runs_on_torch_and_its_conversions_on_their_envs(self) -> None:
        """A torch.export program as the matrix model: torch@cpu runs it, ref its ONNX twin
        (converted first by torch.onnx, or the file the config gives), tflite@cpu and
        openvino@cpu its conversions made from the source (litert-torch, OpenVINO); the analysis
        grid has one row per direction, compared with torch@cpu."""
        work = tempfile.mkdtemp(prefix="concord-src-")
        subprocess.run([os.path.join(REPO, ".venv-torch", "bin", "python"),
                        os.path.join(REPO, "adapters", "testing", "make_framework_models.py"),
                        "torch", work], check=True, capture_output=True)
        for given in (False, True):
            with self.subTest(onnx_given=given):
                model = {"name": "net", "path": "net.pt2",
                         "conversions": [{"to": "tflite"}, {"to": "openvino"}]}
                if given:
                    model["onnx"] = "torch_twin.onnx"
                config = os.path.join(work, "s%d.json" % given)
                with open(config, "w") as f:
                    json.dump({"models": [model], "envs": ["torch@cpu,opt=0", "ref",
                                                           "tvm@cpu,opt=0", "tflite@cpu",
                                                           "openvino@cpu"],
                               "dataset": {"random": 3}, "repeats": 1}, f)
                db = os.path.join(work, "s%d.db" % given)
                analysis = os.path.join(work, "s%d.analysis.json" % given)
                html = os.path.join(work, "s%d.html" % given)
                p = subprocess.run([CONCORD, "matrix", config, "--db", db, "--no-report"],
                                   capture_output=True, text=True, timeout=1200)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual("net: convert to onnx" in p.stderr, not given, p.stderr)
                p = subprocess.run([CONCORD, "report", db, "--out", html, "--analysis-json",
                                    analysis], capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                with open(analysis) as f:
                    directions = json.load(f)["models"][0]["directions"]
                self.assertEqual(directions["reference_env"], "torch@cpu,opt=0")
                rows = {r["direction"]: r for r in directions["rows"]}
                self.assertEqual(sorted(rows), ["onnx", "openvino", "source", "tflite"])
                self.assertTrue(rows["source"]["file"].endswith("net.pt2"))
                self.assertEqual(rows["onnx"]["tools"],
                                 ["given"] if given else ["torch.onnx.dynamo"])
                self.assertEqual(rows["tflite"]["tools"], ["litert-torch"])
                # tvm@cpu could compile the .pt2 or the .tflite with TVM's own frontends, but
                # it lists ONNX first: it runs the ONNX twin.
                for direction, envs in (("onnx", ["ref@cpu", "tvm@cpu,opt=0"]),
                                        ("tflite", ["tflite@cpu"]),
                                        ("openvino", ["openvino@cpu"])):
                    cells = rows[direction]["cells"]
                    self.assertEqual([c["env"] for c in cells], envs, direction)
                    self.assertLess(cells[0]["max_abs"], 1e-4, direction)
                    self.assertEqual(cells[0]["top1_agree"], 1.0, direction)
                with open(html) as f:
                    page = f.read()
                self.assertIn('id="conversion-study"', page)
                self.assertIn("direction \u00d7 environment", page)


    def test_quantized_directions_run_side_by_side_and_stale_cells_rerun(self) -> None:
        """Deployment settings as directions: TFLite dynamic-range and full int8
        (TFLiteConverter, calibrated on other photos than the evaluated ones) of one Keras
        source, each run by its own tflite@cpu,twin=LABEL env; a second model (a SavedModel)
        without those directions is not run by them (counted as not applicable). Adding an
        OpenVINO direction later reruns the stored openvino@cpu cells, which ran the ONNX twin
        before. Needs the tf venv."""
        work = tempfile.mkdtemp(prefix="concord-quant-")
        subprocess.run([os.path.join(REPO, ".venv-tf", "bin", "python"),
                        os.path.join(REPO, "adapters", "testing", "make_framework_models.py"),
                        "tf", work], check=True, capture_output=True)
        skimage = "/usr/lib/python3/dist-packages/skimage/data"
        for folder, names in (("photos", ["astronaut.png", "chelsea.png", "coffee.png",
                                          "rocket.jpg"]),
                              ("calib", ["motorcycle_left.png", "motorcycle_right.png",
                                         "color.png", "ihc.png", "hubble_deep_field.jpg",
                                         "retina.jpg"])):
            os.makedirs(os.path.join(work, folder))
            for n in names:
                shutil.copy(os.path.join(skimage, n), os.path.join(work, folder, n))
        pre = {"resize": {"mode": "exact", "size": [8, 8], "interpolation": "area"},
               "scale": 1.0, "mean": [127.0, 127.0, 127.0], "std": [128.0, 128.0, 128.0],
               "channel_order": "RGB", "layout": "NHWC", "dtype": "float32"}
        quantized: list[dict[str, object]] = [
            {"to": "tflite", "quantize": "dynamic"},
            {"to": "tflite", "quantize": "int8", "calibration": "calib"}]
        envs = ["keras@cpu", "ref", "openvino@cpu", "tflite@cpu,twin=tflite-dynamic",
                "tflite@cpu,twin=tflite-int8"]

        def run(conversions: list[dict[str, object]]) -> dict[str, object]:
            config = os.path.join(work, "q.json")
            with open(config, "w") as f:
                json.dump({"models": [
                    {"name": "net", "path": "net.keras", "preprocess": pre,
                     "conversions": conversions},
                    {"name": "saved", "path": "net_saved", "onnx": "tf_twin.onnx",
                     "preprocess": pre}],
                    "envs": envs, "dataset": {"images": "photos"}, "repeats": 1}, f)
            db = os.path.join(work, "q.db")
            p = subprocess.run([CONCORD, "matrix", config, "--db", db, "--json", "--no-report"],
                               capture_output=True, text=True, timeout=1200)
            self.assertIn(p.returncode, (0, 1), p.stderr)  # 1: quantized top-1 may differ
            summary: dict[str, object] = json.loads(p.stdout)
            p = subprocess.run([CONCORD, "report", db, "--out", os.path.join(work, "q.html"),
                                "--analysis-json", os.path.join(work, "q.analysis.json")],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            return summary

        first = run(quantized)
        self.assertEqual(first["not_applicable"], 2)  # saved x the two twin= envs
        self.assertEqual(first["stale"], 0)
        self.assertEqual(first["failed"], 0, first)
        self.assertEqual(first["cells"], 4 * (5 + 3))
        with open(os.path.join(work, "q.analysis.json")) as f:
            model = json.load(f)["models"][0]
        rows = {r["direction"]: r for r in model["directions"]["rows"]}
        self.assertEqual(rows["onnx"]["cells"][1]["env"], "openvino@cpu")  # no IR yet: the hub
        int8 = rows["tflite-int8"]
        self.assertEqual(int8["calibration_sets"], 6)
        for label in ("tflite-dynamic", "tflite-int8"):
            with self.subTest(direction=label):
                cells = rows[label]["cells"]
                self.assertEqual([c["env"] for c in cells], ["tflite@cpu,twin=" + label])
                self.assertTrue(rows[label]["file"].endswith(label + ".tflite"))
                # Quantized: not bit-exact, but close to the fp32 source on 10 logits.
                self.assertGreater(cells[0]["max_abs"], 1e-6, label)
                self.assertLess(cells[0]["max_abs"], 0.5, label)
        # A direction added later: openvino@cpu now runs the IR, so its 4 stored cells rerun.
        second = run(quantized + [{"to": "openvino"}])
        self.assertEqual(second["stale"], 4)
        self.assertEqual(second["ran"], 4)
        with open(os.path.join(work, "q.analysis.json")) as f:
            model = json.load(f)["models"][0]
        rows = {r["direction"]: r for r in model["directions"]["rows"]}
        self.assertEqual([c["env"] for c in rows["openvino"]["cells"]], ["openvino@cpu"])
        self.assertLess(rows["openvino"]["cells"][0]["max_abs"], 1e-4)
        third = run(quantized + [{"to": "openvino"}])  # nothing changed: nothing reruns
        self.assertEqual((third["stale"], third["ran"]), (0, 0))

    def test_twin_outside_a_matrix_and_unknown_twin_labels_are_usage_errors(self) -> None:
        work = tempfile.mkdtemp(prefix="concord-twin-")
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "make_models.py"),
                        "example", work], check=True, capture_output=True)
        p = subprocess.run([CONCORD, "run", os.path.join(work, "model.onnx"), "--env",
                            "ref,twin=tflite"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("only `concord matrix` configs take it", p.stderr)
        config = os.path.join(work, "t.json")
        with open(config, "w") as f:
            json.dump({"models": [{"path": "model.onnx", "conversions": [{"to": "openvino"}]}],
                       "envs": ["ref", "openvino@cpu,twin=openvino-fp16"],
                       "dataset": {"random": 1}}, f)
        p = subprocess.run([CONCORD, "matrix", config, "--db", os.path.join(work, "t.db")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("asks for direction 'openvino-fp16', which no model has (directions: "
                      "openvino)", p.stderr)


def main() -> int:
    global CONCORD
    CONCORD = os.path.abspath(sys.argv[1])
    names = sys.argv[2:]  # optional: test method names
    loader = unittest.defaultTestLoader
    suite = (loader.loadTestsFromNames(names, MatrixConversions) if names  # type: ignore[arg-type]
             else loader.loadTestsFromTestCase(MatrixConversions))
    return 0 if unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
