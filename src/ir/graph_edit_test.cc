#include "ir/graph_edit.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace concord {
namespace {

void AddNode(onnx::GraphProto* g, const std::string& op, const std::string& name,
             const std::vector<std::string>& ins, const std::vector<std::string>& outs) {
  *g->add_node() = MakeNode(op, name, ins, outs);
}

// A branch graph: out = Op(x) where x is read from the enclosing graph.
onnx::GraphProto Branch(const std::string& op, const std::string& x, const std::string& out) {
  onnx::GraphProto b;
  b.set_name("branch_" + out);
  AddNode(&b, op, "n_" + out, {x}, {out});
  b.add_output()->set_name(out);
  return b;
}

// main: a -> Relu -> t; If(cond) { then: Neg(t), else: Abs(t) } -> y; y and t are outputs.
onnx::GraphProto IfGraph() {
  onnx::GraphProto g;
  g.add_input()->set_name("a");
  g.add_input()->set_name("cond");
  AddNode(&g, "Relu", "relu", {"a"}, {"t"});
  AddNode(&g, "If", "if", {"cond"}, {"y"});
  auto* then_g = g.mutable_node(1)->add_attribute();
  then_g->set_name("then_branch");
  then_g->set_type(onnx::AttributeProto::GRAPH);
  *then_g->mutable_g() = Branch("Neg", "t", "y_then");
  auto* else_g = g.mutable_node(1)->add_attribute();
  else_g->set_name("else_branch");
  else_g->set_type(onnx::AttributeProto::GRAPH);
  *else_g->mutable_g() = Branch("Abs", "t", "y_else");
  g.add_output()->set_name("y");
  g.add_output()->set_name("t");
  return g;
}

const onnx::GraphProto& Sub(const onnx::GraphProto& g, int node, int attr) {
  return g.node(node).attribute(attr).g();
}

TEST(GraphEdit, ReplaceUsesRewritesSubgraphCapturesAndGraphOutputs) {
  onnx::GraphProto g = IfGraph();
  ReplaceUses(&g, "t", "u");
  EXPECT_EQ(Sub(g, 1, 0).node(0).input(0), "u");
  EXPECT_EQ(Sub(g, 1, 1).node(0).input(0), "u");
  EXPECT_EQ(g.output(1).name(), "u");
  EXPECT_EQ(g.node(0).output(0), "t");  // the producer is not touched
}

TEST(GraphEdit, ReplaceUsesCanKeepGraphOutputs) {
  onnx::GraphProto g = IfGraph();
  ReplaceUses(&g, "t", "u", GraphOutputs::kKeep);
  EXPECT_EQ(Sub(g, 1, 0).node(0).input(0), "u");
  EXPECT_EQ(g.output(1).name(), "t");
}

TEST(GraphEdit, ReplaceUsesStopsAtASubgraphThatShadowsTheName) {
  onnx::GraphProto g = IfGraph();
  // The else branch defines its own `t` (as a node output) and reads that one.
  auto* else_g = g.mutable_node(1)->mutable_attribute(1)->mutable_g();
  else_g->mutable_node(0)->set_input(0, "a");
  else_g->mutable_node(0)->set_output(0, "t");
  AddNode(else_g, "Abs", "abs2", {"t"}, {"y_else"});
  else_g->mutable_output(0)->set_name("y_else");
  ReplaceUses(&g, "t", "u");
  EXPECT_EQ(Sub(g, 1, 0).node(0).input(0), "u");
  EXPECT_EQ(Sub(g, 1, 1).node(1).input(0), "t");
  EXPECT_EQ(Sub(g, 1, 1).node(0).output(0), "t");
}

TEST(GraphEdit, ReplaceUsesReachesNestedLoopBodiesUnlessShadowedByABodyInput) {
  onnx::GraphProto g;
  AddNode(&g, "Relu", "relu", {"a"}, {"t"});
  AddNode(&g, "Loop", "loop", {"", "", "t"}, {"v"});
  auto* body = g.mutable_node(1)->add_attribute();
  body->set_name("body");
  body->set_type(onnx::AttributeProto::GRAPH);
  onnx::GraphProto inner = Branch("Neg", "t", "w");  // captures t two levels down
  onnx::GraphProto b;
  b.add_input()->set_name("iter");
  b.add_input()->set_name("cond");
  AddNode(&b, "If", "inner_if", {"cond"}, {"w"});
  auto* ia = b.mutable_node(0)->add_attribute();
  ia->set_name("then_branch");
  ia->set_type(onnx::AttributeProto::GRAPH);
  *ia->mutable_g() = inner;
  *body->mutable_g() = b;
  onnx::GraphProto shadowed = g;
  shadowed.mutable_node(1)->mutable_attribute(0)->mutable_g()->add_input()->set_name("t");

  ReplaceUses(&g, "t", "u");
  EXPECT_EQ(g.node(1).input(2), "u");
  EXPECT_EQ(Sub(g, 1, 0).node(0).attribute(0).g().node(0).input(0), "u");
  ReplaceUses(&shadowed, "t", "u");
  EXPECT_EQ(shadowed.node(1).input(2), "u");
  EXPECT_EQ(Sub(shadowed, 1, 0).node(0).attribute(0).g().node(0).input(0), "t");
}

TEST(GraphEdit, FreshNameAvoidsNamesInsideSubgraphs) {
  onnx::GraphProto g = IfGraph();
  EXPECT_EQ(FreshName(g, "y_then"), "y_then_2");      // a tensor of the then branch only
  EXPECT_EQ(FreshName(g, "n_y_else"), "n_y_else_2");  // a node of the else branch only
  EXPECT_EQ(FreshName(g, "fresh"), "fresh");
  Namer namer(g);
  EXPECT_EQ(namer.Fresh("t"), "t_2");
  EXPECT_EQ(namer.Fresh("t"), "t_3");
}

bool Topological(const onnx::GraphProto& g) {
  std::set<std::string> seen;
  for (const auto& i : g.input()) seen.insert(i.name());
  for (const auto& n : g.node()) {
    for (const auto& i : n.input()) {
      if (!i.empty() && !seen.count(i)) return false;
    }
    seen.insert(n.output().begin(), n.output().end());
  }
  return true;
}

TEST(GraphEdit, InsertAndRemoveKeepTopologicalOrder) {
  onnx::GraphProto g;
  g.add_input()->set_name("x");
  AddNode(&g, "Relu", "a", {"x"}, {"xa"});
  AddNode(&g, "Neg", "b", {"xa"}, {"xb"});
  AddNode(&g, "Abs", "c", {"xb"}, {"xc"});
  // A node between a and b: b reads its output.
  ReplaceUses(&g, "xa", "xm");
  InsertNode(&g, 1, MakeNode("Sigmoid", "m", {"xa"}, {"xm"}));
  ASSERT_EQ(g.node_size(), 4);
  EXPECT_EQ(g.node(1).name(), "m");
  EXPECT_EQ(g.node(2).name(), "b");
  EXPECT_EQ(g.node(2).input(0), "xm");
  EXPECT_TRUE(Topological(g));
  // Removing it again: b reads xa.
  ReplaceUses(&g, "xm", "xa");
  RemoveNode(&g, 1);
  ASSERT_EQ(g.node_size(), 3);
  EXPECT_EQ(g.node(0).name(), "a");
  EXPECT_EQ(g.node(1).name(), "b");
  EXPECT_EQ(g.node(2).name(), "c");
  EXPECT_TRUE(Topological(g));
  InsertNode(&g, 3, MakeNode("Exp", "tail", {"xc"}, {"xe"}));
  EXPECT_EQ(g.node(3).name(), "tail");
  EXPECT_TRUE(Topological(g));
}

TEST(GraphEdit, GraphIndexCountsSubgraphCapturesAsConsumers) {
  onnx::GraphProto g = IfGraph();
  g.add_initializer()->set_name("w");
  GraphIndex idx(g);
  EXPECT_EQ(idx.producer.at("t"), 0);
  EXPECT_EQ(idx.consumers.at("t"), std::vector<int>{1});  // the If, through both branches
  EXPECT_EQ(idx.captured_by.at("t"), std::vector<int>{1});
  EXPECT_TRUE(idx.Captured("t"));
  EXPECT_FALSE(idx.Captured("cond"));
  EXPECT_EQ(idx.consumers.at("cond"), std::vector<int>{1});
  EXPECT_EQ(idx.NumConsumers("t"), 2);  // the If and the graph output
  EXPECT_EQ(idx.inputs, (std::vector<std::string>{"a", "cond"}));
  EXPECT_EQ(idx.outputs, (std::vector<std::string>{"y", "t"}));
  EXPECT_TRUE(idx.IsInitializer("w"));
  EXPECT_TRUE(idx.IsConstant("w"));
  EXPECT_EQ(CapturedNames(Sub(g, 1, 0)), std::set<std::string>{"t"});
}

TEST(GraphEdit, AttrTextAndFindAttr) {
  onnx::NodeProto n = MakeNode("Conv", "c", {"x"}, {"y"});
  auto* a = n.add_attribute();
  a->set_name("pads");
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : {1, 2}) a->add_ints(v);
  auto* s = n.add_attribute();
  s->set_name("auto_pad");
  s->set_type(onnx::AttributeProto::STRING);
  s->set_s("NOTSET");
  ASSERT_NE(FindAttr(n, "pads"), nullptr);
  EXPECT_EQ(FindAttr(n, "strides"), nullptr);
  EXPECT_EQ(AttrText(*FindAttr(n, "pads")), "[1, 2]");
  EXPECT_EQ(AttrText(*FindAttr(&n, "auto_pad")), "\"NOTSET\"");
  EXPECT_FALSE(HasSubgraph(n));
  EXPECT_TRUE(HasSubgraph(IfGraph().node(1)));
}

}  // namespace
}  // namespace concord
