"""Evaluation math: AP variants, vectorised greedy matching, frame-mAP, video-mAP, AVA frame-mAP,
classification accuracy. File formats and command lines live in the ``evaluation`` package."""

from core.metrics.ap import descending_order, precision_recall, trapezoid_ap, voc07_ap, voc_ap
from core.metrics.boxes import iou_act, iou_matlab, iou_tf
from core.metrics.classification import classification_ap, hit_at_k, topk_accuracy, video_scores
from core.metrics.detection import ClassAP, act_frame_ap, road_frame_ap, tf_detection_ap
from core.metrics.matching import Pairs, group_pairs, match_argmax, match_best_remaining
from core.metrics.video import Tubes, VideoAP, act_video_ap, make_tubes, nms3dt, road_video_ap, tube_iou

__all__ = [
    "ClassAP", "Pairs", "Tubes", "VideoAP",
    "act_frame_ap", "act_video_ap", "classification_ap", "descending_order", "group_pairs", "hit_at_k",
    "iou_act", "iou_matlab", "iou_tf", "make_tubes", "match_argmax", "match_best_remaining", "nms3dt",
    "precision_recall", "road_frame_ap", "road_video_ap", "tf_detection_ap", "topk_accuracy",
    "trapezoid_ap", "tube_iou", "video_scores", "voc07_ap", "voc_ap",
]
