"""Unit tests of the demo model's data generator, dense targets, safetensors I/O and the
training-side SHIRG selection (training/)."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "training"))

import torch  # noqa: E402

import safetensors_io  # noqa: E402
import shirg_select  # noqa: E402
import train  # noqa: E402
import vqa_data  # noqa: E402


def inside(box, outer):
    return box[0] >= outer[0] and box[1] >= outer[1] and box[2] <= outer[2] and box[3] <= outer[3]


class DataTest(unittest.TestCase):
    def test_deterministic_by_seed_and_index(self):
        for i in range(3):
            a_img, a = vqa_data.make_example(7, i)
            b_img, b = vqa_data.make_example(7, i)
            self.assertEqual(a, b)
            self.assertEqual(a_img.tobytes(), b_img.tobytes())

    def test_train_and_heldout_sets_differ(self):
        a_img, _ = vqa_data.make_example(train.TRAIN_SEED, 0)
        b_img, _ = vqa_data.make_example(train.HELDOUT_SEED, 0)
        self.assertNotEqual(a_img.tobytes(), b_img.tobytes())

    def test_every_family_and_its_evidence(self):
        for fam in vqa_data.FAMILIES:
            for i in range(20):
                img, ex = vqa_data.make_example(3, i, fam)
                self.assertEqual(img.size, (672, 672))
                self.assertEqual(ex["family"], fam)
                self.assertTrue(ex["answer"].isdigit())
                for g in ex["glyphs"]:
                    self.assertTrue(inside(g["box"], [0, 0, 672, 672]), (fam, i, g))
                # the glyphs inside the evidence box spell the answer, in order
                digits = [g for g in ex["glyphs"] if inside(g["box"], ex["evidence_box"])]
                digits.sort(key=lambda g: g["index"])
                self.assertEqual("".join(str(g["digit"]) for g in digits), ex["answer"], (fam, i, ex))
                # the question names the cue of those glyphs
                cue = vqa_data.TAGS[digits[0]["tag"]]
                self.assertIn(cue, ex["question"])

    def test_fine_family_is_finer_than_a_384_patch(self):
        _, ex = vqa_data.make_example(3, 0, "boxes")
        g = ex["glyphs"][0]["box"]
        self.assertLessEqual(g[2] - g[0], 14)  # one 672-patch per digit: two digits per 384-patch
        _, ex = vqa_data.make_example(3, 0, "chart")
        g = ex["glyphs"][0]["box"]
        self.assertGreaterEqual(g[2] - g[0], 24)  # one 384-patch per digit

    def test_dense_targets_place_digits_on_their_patch(self):
        _, ex = vqa_data.make_example(5, 0, "boxes")
        digit, index, tag = train.dense_targets(ex["glyphs"], 48, 1.0)
        for gl in ex["glyphs"]:
            x0, y0, x1, y1 = gl["box"]
            p = int(((y0 + y1) / 2) // 14) * 48 + int(((x0 + x1) / 2) // 14)
            self.assertEqual(int(digit[p]), gl["digit"])
            self.assertEqual(int(index[p]), gl["index"])
            self.assertEqual(int(tag[p]), gl["tag"])
        self.assertEqual(int((digit != 10).sum()), len(ex["glyphs"]))
        # at 384 two fine digits can share a patch: such patches are ignored, never mislabelled
        digit384, _, _ = train.dense_targets(ex["glyphs"], 27, 384 / 672)
        self.assertTrue(bool((digit384 == train.IGNORE).any()))


class CurriculumTest(unittest.TestCase):
    def test_lm_curriculum_goes_from_short_to_real_layouts(self):
        plan = train.lm_curriculum(2000)
        self.assertEqual(len(plan), 2000)
        self.assertEqual(plan[:900], ["sparse64"] * 900)
        self.assertEqual(plan[900:1300], ["sparse256"] * 400)
        self.assertEqual(set(plan[1300:]), {"g27", "shirg", "g48", "sparse256"})
        self.assertEqual(train.lm_curriculum(2), ["g27", "shirg"])  # tiny runs still see real layouts

    def test_oracle_layouts_point_grounding_at_the_answer_digits(self):
        import random
        oracle = train.Oracle(16, 0)
        _, ex = vqa_data.make_example(2, 0, "boxes")
        answer = [int(c) for c in ex["answer"]]
        for kind, n in (("sparse64", None), ("shirg", 64 + 1152), ("g48", 48 * 48), ("g27", 27 * 27)):
            toks, ground = train.oracle_view(oracle, ex, kind, random.Random(1))
            if n is not None:
                self.assertEqual(toks.shape[0], n, kind)
            self.assertEqual(len(ground), len(answer), kind)
            if kind == "g27":
                continue  # fine digits collide at 384x384: some targets are None by design
            for k, tok in enumerate(ground):
                self.assertIsNotNone(tok, kind)
                want = oracle.digit[answer[k]] + oracle.index[k]
                got = toks[tok] - oracle.tag[_tag_of(ex)]
                self.assertTrue(torch.allclose(got, want, atol=1e-6), f"{kind} digit {k}")

    def test_distillation_weighs_digit_patches_as_much_as_the_background(self):
        want = torch.zeros(100, 4)
        weight = torch.full((100,), 0.2)
        weight[:2] = 1.0  # two digit patches among 100
        proj = torch.zeros(100, 4)
        proj[:2] = 1.0  # the digit patches wrong by 1 in every dimension, the background exact
        self.assertAlmostEqual(float(train.distill_loss(proj, want, weight)), 1.0, places=6)
        proj = torch.zeros(100, 4)
        proj[2:] = 1.0  # the background wrong, the digits exact
        self.assertAlmostEqual(float(train.distill_loss(proj, want, weight)), 1.0, places=6)
        # A view without digits: the background mean alone.
        self.assertAlmostEqual(float(train.distill_loss(proj[2:], want[2:], weight[2:])), 1.0, places=6)


def _tag_of(ex):
    """The region cue id of the example's answer (the asked colour / word)."""
    x0, y0, x1, y1 = ex["evidence_box"]
    inside = [g for g in ex["glyphs"] if g["box"][0] >= x0 and g["box"][2] <= x1 and g["box"][1] >= y0
              and g["box"][3] <= y1]
    return inside[0]["tag"]


class IoAndSelectionTest(unittest.TestCase):
    def test_safetensors_roundtrip(self):
        t = {"a.weight": torch.randn(3, 5), "b": torch.arange(4, dtype=torch.int64),
             "c": torch.randn(2, 2).to(torch.bfloat16)}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.safetensors")
            safetensors_io.save(t, p)
            with open(p, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                self.assertEqual(n % 8, 0)
            r = safetensors_io.load(p)
        self.assertEqual(set(r), set(t))
        for k in t:
            self.assertTrue(torch.equal(r[k], t[k]))

    def test_selection_keeps_k_cells_in_raster_order(self):
        torch.manual_seed(0)
        f = torch.randn(48 * 48, 16) * 0.01
        f[100] += 5.0  # a distinctive cell is kept
        kept = shirg_select.select(f, 1152)
        self.assertEqual(kept.numel(), 1152)
        self.assertTrue(bool((kept[1:] > kept[:-1]).all()))
        self.assertIn(100, kept.tolist())
        c = shirg_select.coords_for(kept)
        self.assertEqual(tuple(c.shape), (64 + 1152, 4))
        # scaffold windows: 6x6 cells at G = 48, centre of the first one at (3/48, 3/48)
        self.assertAlmostEqual(float(c[0, 0]), 3 / 48, places=6)
        self.assertAlmostEqual(float(c[0, 2]), 6 / 48, places=6)
        self.assertEqual(tuple(shirg_select.scaffold(f).shape), (64, 16))


if __name__ == "__main__":
    unittest.main()
