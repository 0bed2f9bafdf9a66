from tierroute.tiers import is_over_routed, is_under_routed, under_routing_cost_matrix


def test_under_routing_follows_capability_order() -> None:
    assert is_under_routed("complex_reasoning", "moderate_conv")
    assert is_under_routed("complex_reasoning", "code_gen")
    assert is_under_routed("moderate_conv", "simple_faq")
    assert is_under_routed("moderate_conv", "code_gen")
    assert is_under_routed("code_gen", "simple_faq")
    assert is_under_routed("code_gen", "moderate_conv")
    assert not is_under_routed("code_gen", "complex_reasoning")
    assert not is_under_routed("simple_faq", "code_gen")
    assert not is_under_routed("moderate_conv", "complex_reasoning")


def test_over_routing_is_a_served_mistake() -> None:
    assert is_over_routed("simple_faq", "complex_reasoning")
    assert is_over_routed("code_gen", "complex_reasoning")
    assert not is_over_routed("simple_faq", "simple_faq")
    assert not is_over_routed("complex_reasoning", "moderate_conv")


def test_cost_matrix_shape_and_values() -> None:
    tiers = ["code_gen", "complex_reasoning", "moderate_conv", "simple_faq"]
    matrix = under_routing_cost_matrix(tiers, under_cost=4.0, over_cost=1.0)
    assert [matrix[i][i] for i in range(4)] == [0.0] * 4
    assert matrix[1][2] == 4.0  # complex routed to moderate: under
    assert matrix[3][1] == 1.0  # simple routed to complex: over
