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


def main() -> int:
    global CONCORD
    CONCORD = os.path.abspath(sys.argv[1])
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(MatrixConversions)
    return 0 if unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
