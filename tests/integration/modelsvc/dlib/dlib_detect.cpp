// Reference face detections from dlib's own C++ (the test oracle for modelsvc.dlib_detector).
// Usage: dlib_detect MODEL.dat IMAGES.rgb COUNT HEIGHT WIDTH [REPEATS]
//   IMAGES.rgb holds COUNT RGB HEIGHT x WIDTH images, row-major, 3 bytes per pixel.
//   Prints one line per image: the number of faces, then left top right bottom confidence of
//   each (dlib's order, best first); with REPEATS > 0 it instead times REPEATS passes over the
//   images, one image at a time, and prints images per second.
#include <dlib/dnn.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

using namespace dlib;

// The network type written in mmod_human_face_detector.dat (dlib's dnn_mmod_face_detection_ex).
template <long N, typename Sub> using con5d = con<N, 5, 5, 2, 2, Sub>;
template <long N, typename Sub> using con5 = con<N, 5, 5, 1, 1, Sub>;
template <typename Sub>
using downsampler = relu<affine<con5d<32, relu<affine<con5d<32, relu<affine<con5d<16, Sub>>>>>>>>>;
template <typename Sub> using rcon5 = relu<affine<con5<45, Sub>>>;
using detector_net = loss_mmod<con<1, 9, 9, 1, 1, rcon5<rcon5<rcon5<downsampler<
    input_rgb_image_pyramid<pyramid_down<6>>>>>>>>;

int main(int argc, char** argv) {
    if (argc < 6) {
        std::cerr << "usage: dlib_detect MODEL IMAGES COUNT HEIGHT WIDTH [REPEATS]\n";
        return 2;
    }
    detector_net net;
    deserialize(argv[1]) >> net;
    const long count = std::atol(argv[3]), height = std::atol(argv[4]), width = std::atol(argv[5]);
    const long repeats = argc > 6 ? std::atol(argv[6]) : 0;
    std::ifstream in(argv[2], std::ios::binary);
    std::vector<matrix<rgb_pixel>> images(count);
    for (auto& image : images) {
        image.set_size(height, width);
        in.read(reinterpret_cast<char*>(&image(0, 0)), height * width * 3);
    }
    if (!in) {
        std::cerr << "the images file is shorter than " << count << " images\n";
        return 1;
    }
    if (repeats > 0) {
        const auto start = std::chrono::steady_clock::now();
        for (long r = 0; r < repeats; ++r)
            for (const auto& image : images) net(image);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        std::printf("%.6f\n", repeats * count / took.count());
        return 0;
    }
    for (const auto& image : images) {
        const std::vector<mmod_rect> faces = net(image);
        std::printf("%zu", faces.size());
        for (const auto& face : faces)
            std::printf(" %ld %ld %ld %ld %.9g", face.rect.left(), face.rect.top(),
                        face.rect.right(), face.rect.bottom(), face.detection_confidence);
        std::printf("\n");
    }
    return 0;
}
