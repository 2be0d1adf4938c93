// Reference embeddings from dlib's own C++ (the test oracle for modelsvc.dlib_resnet).
// Usage: dlib_embed MODEL.dat CHIPS.rgb COUNT [REPEATS]
//   CHIPS.rgb holds COUNT 150x150 RGB chips, row-major, 3 bytes per pixel.
//   Prints one line of 128 descriptor values per chip (%.9g); with REPEATS > 0 it instead
//   times REPEATS passes over the chips, one image at a time, and prints images per second.
#include <dlib/dnn.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

using namespace dlib;

// The network type written in dlib_face_recognition_resnet_model_v1.dat.
template <int N, template <typename> class Norm, int Stride, typename Sub>
using conv_pair = Norm<con<N, 3, 3, 1, 1, relu<Norm<con<N, 3, 3, Stride, Stride, Sub>>>>>;
template <int N, typename Sub>
using same_block = relu<add_prev1<conv_pair<N, affine, 1, tag1<Sub>>>>;
template <int N, typename Sub>
using down_block = relu<add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<conv_pair<N, affine, 2, tag1<Sub>>>>>>>;

template <typename Sub> using stage0 = down_block<256, Sub>;
template <typename Sub> using stage1 = same_block<256, same_block<256, down_block<256, Sub>>>;
template <typename Sub> using stage2 = same_block<128, same_block<128, down_block<128, Sub>>>;
template <typename Sub>
using stage3 = same_block<64, same_block<64, same_block<64, down_block<64, Sub>>>>;
template <typename Sub> using stage4 = same_block<32, same_block<32, same_block<32, Sub>>>;

using face_net = loss_metric<fc_no_bias<128, avg_pool_everything<stage0<stage1<stage2<stage3<
    stage4<max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

int main(int argc, char** argv) {
    if (argc < 4) {
        std::cerr << "usage: dlib_embed MODEL.dat CHIPS.rgb COUNT [REPEATS]\n";
        return 2;
    }
    face_net net;
    deserialize(argv[1]) >> net;
    const long count = std::atol(argv[3]);
    const long repeats = argc > 4 ? std::atol(argv[4]) : 0;
    std::ifstream in(argv[2], std::ios::binary);
    std::vector<matrix<rgb_pixel>> chips(count);
    for (auto& chip : chips) {
        chip.set_size(150, 150);
        for (long r = 0; r < 150; ++r)
            for (long c = 0; c < 150; ++c) {
                unsigned char rgb[3];
                in.read(reinterpret_cast<char*>(rgb), 3);
                chip(r, c) = rgb_pixel(rgb[0], rgb[1], rgb[2]);
            }
    }
    if (!in) {
        std::cerr << "the chips file is shorter than " << count << " chips\n";
        return 1;
    }
    if (repeats > 0) {
        net(chips[0]);  // warm-up
        const auto start = std::chrono::steady_clock::now();
        for (long r = 0; r < repeats; ++r)
            for (const auto& chip : chips) net(chip);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        std::printf("%.6f\n", repeats * count / took.count());
        return 0;
    }
    for (const auto& chip : chips) {
        const matrix<float, 0, 1> descriptor = net(chip);
        for (long i = 0; i < descriptor.size(); ++i)
            std::printf(i ? " %.9g" : "%.9g", descriptor(i));
        std::printf("\n");
    }
    return 0;
}
