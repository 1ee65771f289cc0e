#pragma once
// Weight structs of every component, filled once by the model loader and then immutable.
// Conventions (contracts for every forward function):
//  - Linear weights are [out, in] in the compute dtype (bf16 or fp32), LoRA already merged.
//  - Biases, norm weights and position embeddings are fp32.
//  - Fused layouts are made at load time for speed: SigLIP q|k|v -> qkv [3*D, D] (+ bias [3*D]);
//    LLaDA q|k|v -> wqkv [3*D, D]; LLaDA ff_proj|up_proj -> w_gate_up [2*H, D] (gate rows first).
#include "engine/gemm/linear_weight.h"
#include "engine/platform/kernels.h"

#include <ATen/core/Tensor.h>

#include <vector>

namespace shirg {

struct LinearW {
  at::Tensor weight;  // [out, in], compute dtype
  at::Tensor bias;    // [out] fp32, undefined when the layer has no bias
};

struct LayerNormW {
  at::Tensor weight;  // [D] fp32
  at::Tensor bias;    // [D] fp32
};

// model.vision_tower.vision_tower.vision_model.*
struct SiglipLayerW {
  LayerNormW ln1;  // layer_norm1
  LinearW qkv;     // self_attn.{q,k,v}_proj fused: [3*D, D], bias [3*D]
  LinearW out;     // self_attn.out_proj
  LayerNormW ln2;  // layer_norm2
  LinearW fc1;     // mlp.fc1 [I, D]
  LinearW fc2;     // mlp.fc2 [D, I]
};

struct SiglipW {
  at::Tensor patch_weight;  // embeddings.patch_embedding.weight [D, 3, P, P], compute dtype
  at::Tensor patch_bias;    // [D] fp32
  at::Tensor pos_embed;  // embeddings.position_embedding.weight [G*G, D] fp32 (G = 27 for so400m)
  std::vector<SiglipLayerW> layers;  // only the layers used (LaViDa: 26)
  Kernels kernels = Kernels::kAuto;  // the implementations its forward runs (set at load)
};

// model.mm_projector.{0,2}: Linear(Dv, D) -> GELU(erf) -> Linear(D, D)
struct ProjectorW {
  LinearW fc1;
  LinearW fc2;
};

// SHIRG coordinate layer "coord_rotary": a 128-d rotary feature of (x, y, w, h) -> Dv.
// Its weight is the checkpoint's base weight (a merged SHIRG checkpoint carries one; LaViDa's do
// not: zeros) plus any adapter's LoRA delta.
struct CoordLayerW {
  at::Tensor weight;           // [Dv, 128] compute dtype (all zeros when neither is present)
  bool from_adapter = false;   // an adapter supplied lora_A/lora_B for it
  bool in_checkpoint = false;  // the checkpoint holds model.shirg.coord_rotary.weight
  // Trained weights are present (the embedding is applied only then).
  bool active() const { return from_adapter || in_checkpoint; }
};

// model.transformer.blocks.{i}.*
struct LladaBlockW {
  at::Tensor attn_norm;  // [D] fp32
  // The matrices: plain, or packed for the CPU GEMM by the loader (LoadOptions::gemm).
  gemm::LinearWeight wqkv;       // q_proj|k_proj|v_proj fused [3*D, D]  (n_kv_heads == n_heads)
  gemm::LinearWeight wo;         // attn_out [D, D]
  at::Tensor ff_norm;            // [D] fp32
  gemm::LinearWeight w_gate_up;  // ff_proj (gate, SiLU) | up_proj fused [2*H, D]
  gemm::LinearWeight w_down;     // ff_out [D, H]
};

struct LladaW {
  // Matrices (wte, lm_head, block matrices) share one storage dtype: the compute dtype, or bf16
  // under fp32 compute to halve their memory (upcast to fp32 a row chunk at a time per use).
  // kUndefined: compute in the storage dtype.
  at::ScalarType compute_dtype = at::ScalarType::Undefined;
  at::Tensor wte;  // model.transformer.wte.weight [V, D] storage dtype
  std::vector<LladaBlockW> blocks;
  at::Tensor ln_f;             // [D] fp32
  gemm::LinearWeight lm_head;  // model.transformer.ff_out.weight [V, D] storage dtype (untied)
  Kernels kernels = Kernels::kAuto;  // the implementations its forward runs (set at load)

  // The matrices that run through gemm::LinearWeight: every block's wqkv, wo, w_gate_up, w_down,
  // then the LM head (4 * blocks + 1). Pointers into this struct.
  std::vector<gemm::LinearWeight*> matrices() {
    std::vector<gemm::LinearWeight*> out;
    for (auto& b : blocks)
      for (auto* l : {&b.wqkv, &b.wo, &b.w_gate_up, &b.w_down}) out.push_back(l);
    out.push_back(&lm_head);
    return out;
  }
  std::vector<const gemm::LinearWeight*> matrices() const {
    const auto all = const_cast<LladaW*>(this)->matrices();
    return {all.begin(), all.end()};
  }
};

}  // namespace shirg
