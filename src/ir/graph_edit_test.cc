#include "ir/graph_edit.h"

#include <gtest/gtest.h>

namespace concord {
namespace {

// x -> Relu(a) -> If(cond) { then: Neg(a) ; else: Identity(a) shadowed by its own a } -> y,
// with `a` also a graph output.
onnx::GraphProto GraphWithSubgraphs() {
  onnx::GraphProto g;
  g.add_input()->set_name("x");
  g.add_input()->set_name("cond");
  *g.add_node() = MakeNode("Relu", "relu", {"x"}, {"a"});
  onnx::NodeProto iff = MakeNode("If", "if", {"cond"}, {"y"});
  onnx::GraphProto then_g;
  *then_g.add_node() = MakeNode("Neg", "neg", {"a"}, {"t"});
  then_g.add_output()->set_name("t");
  onnx::GraphProto else_g;
  *else_g.add_node() = MakeNode("Constant", "own_a", {}, {"a"});
  *else_g.add_node() = MakeNode("Identity", "id", {"a"}, {"e"});
  else_g.add_output()->set_name("e");
  auto* ta = iff.add_attribute();
  ta->set_name("then_branch");
  ta->set_type(onnx::AttributeProto::GRAPH);
  *ta->mutable_g() = then_g;
  auto* ea = iff.add_attribute();
  ea->set_name("else_branch");
  ea->set_type(onnx::AttributeProto::GRAPH);
  *ea->mutable_g() = else_g;
  *g.add_node() = iff;
  *g.add_node() = MakeNode("Sigmoid", "sig", {"a"}, {"s"});
  g.add_output()->set_name("y");
  g.add_output()->set_name("a");
  g.add_output()->set_name("s");
  return g;
}

TEST(GraphEditTest, ReplaceUsesRewritesCapturesAndGraphOutputs) {
  onnx::GraphProto g = GraphWithSubgraphs();
  ReplaceUses(&g, "a", "b");
  EXPECT_EQ(g.node(2).input(0), "b");
  EXPECT_EQ(g.output(1).name(), "b");
  // The then-branch captures `a` from the outer scope: rewritten.
  EXPECT_EQ(g.node(1).attribute(0).g().node(0).input(0), "b");
  // The else-branch declares its own `a`: untouched.
  EXPECT_EQ(g.node(1).attribute(1).g().node(1).input(0), "a");
  // The producer keeps its output name (the caller renames or rewires it).
  EXPECT_EQ(g.node(0).output(0), "a");
}

TEST(GraphEditTest, ReplaceUsesSkipsOneNode) {
  onnx::GraphProto g = GraphWithSubgraphs();
  ReplaceUses(&g, "a", "b", /*skip=*/2);
  EXPECT_EQ(g.node(2).input(0), "a");
  EXPECT_EQ(g.node(1).attribute(0).g().node(0).input(0), "b");
}

TEST(GraphEditTest, GraphIndexSeesSubgraphReadsAndStatics) {
  onnx::GraphProto g = GraphWithSubgraphs();
  auto* w = g.add_initializer();
  w->set_name("w");
  *g.add_node() = MakeNode("Cast", "cast_w", {"w"}, {"w16"});
  GraphIndex idx(g);
  EXPECT_EQ(idx.producer.at("a"), 0);
  EXPECT_EQ(idx.used_in_subgraphs.count("a"), 1u);
  EXPECT_EQ(idx.NumConsumers("a"), 3);  // Sigmoid, graph output, then-branch
  EXPECT_TRUE(idx.IsStatic("w16"));
  EXPECT_FALSE(idx.IsStatic("a"));
  EXPECT_EQ(idx.inputs, (std::vector<std::string>{"x", "cond"}));
  EXPECT_EQ(idx.ActivationInputs(2), (std::vector<std::pair<int, std::string>>{{0, "a"}}));
}

TEST(GraphEditTest, NamerAvoidsNamesOfSubgraphs) {
  onnx::GraphProto g = GraphWithSubgraphs();
  Namer namer(g);
  EXPECT_EQ(namer.Fresh("t"), "t_2");
  EXPECT_EQ(namer.Fresh("t"), "t_3");
  EXPECT_EQ(namer.Fresh("fresh"), "fresh");
}

TEST(GraphEditTest, InsertAndRemoveKeepOrder) {
  onnx::GraphProto g = GraphWithSubgraphs();
  InsertNode(&g, 1, MakeNode("Abs", "abs", {"a"}, {"z"}));
  ASSERT_EQ(g.node_size(), 4);
  EXPECT_EQ(g.node(1).name(), "abs");
  EXPECT_EQ(g.node(2).name(), "if");
  EXPECT_EQ(FindNode(g, "sig"), 3);
  RemoveNode(&g, 1);
  EXPECT_EQ(g.node(1).name(), "if");
  EXPECT_EQ(FindNode(g, "abs"), -1);
}

TEST(GraphEditTest, AttributesAndTheirText) {
  onnx::NodeProto n = MakeNode("Conv", "c", {"x", "w"}, {"y"});
  SetIntsAttr(&n, "pads", {1, 1, 1, 1});
  SetIntAttr(&n, "group", 2);
  SetFloatAttr(&n, "alpha", 0.5f);
  SetIntsAttr(&n, "pads", {0, 0, 0, 0});  // overwrites, does not append
  SetAttr(&n, "auto_pad", onnx::AttributeProto::STRING)->set_s("NOTSET");
  EXPECT_EQ(IntsAttr(n, "pads"), (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(IntAttr(n, "group", 1), 2);
  EXPECT_EQ(IntAttr(n, "missing", 7), 7);
  EXPECT_EQ(AttrText(*FindAttr(n, "auto_pad")), "\"NOTSET\"");
  EXPECT_EQ(NodeAttrsText(n), "Conv {pads=[0, 0, 0, 0], group=2, alpha=0.5, auto_pad=\"NOTSET\"}");
}

}  // namespace
}  // namespace concord
